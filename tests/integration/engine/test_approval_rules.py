"""Each kind of approval rule, asked directly of the pipeline's hook, on both stores.

Amounts over a threshold (in its currency, or any currency at the mapping's own rates,
held to be safe when no rate is known), any record of an entity, an invoice whose total
changed after posting; a decision for the record's version releases or rejects it; a
hold is kept by later passes even when its rule no longer fires (nothing auto-releases).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from billbridge.change_config import ApprovalRule
from billbridge.engine.approvals import Approvals
from billbridge.engine.model import FlowRuntime
from billbridge.formats.stripe import normalize
from billbridge.mapping.model import load_mapping
from billbridge.mapping.rules import Context, plan_entries
from billbridge.samples import generate
from billbridge.store import Batch, ExceptionRow, RecordDecisionRow, RecordRow, Store, open_store
from billbridge.store.base import AuditEvent
from billbridge.workspace_files import create_workspace

from ...e2e.conftest import mapping_accounts

FX = """\
currency: EUR
fx:
  rates:
    - {date: 2024-01-01, pair: GBP/EUR, rate: "1.1700"}
  max_age_days: 31
  gain: Income:FX-Gain
  loss: Expenses:FX-Loss
"""


@pytest.fixture
def store(state_url: str) -> Any:
    opened = open_store(state_url)
    yield opened
    opened.close()


OBJECTS = list(generate(invoices=60, seed=5, api="current", faults=True))
_BY_ID = {(o["object"], o["id"]): o for o in OBJECTS}


def _resolve(obj: str, ident: str) -> dict[str, Any] | None:
    return _BY_ID.get((obj, ident))


@pytest.fixture
def objects() -> list[dict[str, Any]]:
    return OBJECTS


def _flow(tmp_path: Path, rules: list[ApprovalRule], *, fx: bool = True) -> FlowRuntime:
    products, rates = mapping_accounts()
    create_workspace(tmp_path, products=products, tax_rates=rates, timezone="Europe/Berlin")
    if fx:
        path = tmp_path / "mapping.yaml"
        path.write_text(path.read_text() + FX)
    return FlowRuntime(
        name="f", source=None, target=None, normalize=normalize,  # type: ignore[arg-type]
        mapping=load_mapping(tmp_path / "mapping.yaml"), approvals=tuple(rules),
    )  # fmt: skip


def _check(
    flow: FlowRuntime, store: Store, obj: dict[str, Any], *, version: str = "v1",
    prior: RecordRow | None = None, posted: dict[str, str] | None = None,
) -> Any:  # fmt: skip
    key = f"stripe:{obj['object']}:{obj['id']}"
    value = normalize(obj, record=key, resolve=_resolve).value
    assert value is not None
    mapping = flow.mapping
    ctx = Context(flow="f", connection="stripe", record=key, version=version)
    plan = plan_entries(value, mapping, ctx)
    approvals = Approvals(flow=flow, store=store, resolve=_resolve)
    return approvals.check(key, version, value, plan.entries, prior=prior,
                           posted=lambda k: posted or {})  # fmt: skip


def _refund(objects: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    return next(o for o in objects if o["object"] == "refund" and o["currency"] == currency)


def test_amounts_over_a_threshold_in_any_currency(
    tmp_path: Path, store: Store, objects: list[dict[str, Any]]
) -> None:
    gbp, eur = _refund(objects, "gbp"), _refund(objects, "eur")  # 25.29 GBP, 8.14 EUR
    rule = ApprovalRule(name="refunds", object="refund", over="20 EUR", any_currency=True)
    flow = _flow(tmp_path / "a", [rule])
    held = _check(flow, store, gbp)
    assert held.kind == "hold" and held.rule == "refunds"
    assert held.message == ("awaiting approval: refunds (25.29 GBP (≈ 29.59 EUR at the mapping's"
                            " rate 1.1700) is over 20 EUR)")  # fmt: skip
    assert _check(flow, store, eur) is None  # 8.14 EUR
    only_eur = ApprovalRule(name="refunds", object="refund", over="20 EUR")
    assert _check(_flow(tmp_path / "b", [only_eur]), store, gbp) is None
    no_rate = _check(_flow(tmp_path / "c", [rule], fx=False), store, gbp)
    assert "no GBP/EUR rate in the mapping" in no_rate.message and no_rate.kind == "hold"
    assert _check(flow, store, gbp, posted={"refund": "x"}) is None  # nothing left to post


def test_entity_and_object_conditions(
    tmp_path: Path, store: Store, objects: list[dict[str, Any]]
) -> None:
    invoice = next(o for o in objects if o["object"] == "invoice" and o["status"] == "paid")
    flow = _flow(tmp_path / "a", [ApprovalRule(name="x", entity="default")])
    assert _check(flow, store, invoice).message.startswith("awaiting approval: x (entity default")
    flow = _flow(tmp_path / "b", [ApprovalRule(name="x", entity="other")])
    assert _check(flow, store, invoice) is None
    flow = _flow(tmp_path / "c", [ApprovalRule(name="x", object="payout", entity="default")])
    assert _check(flow, store, invoice) is None


def test_an_invoice_whose_total_changed_after_posting(
    tmp_path: Path, store: Store, objects: list[dict[str, Any]]
) -> None:
    before = next(o for o in objects if o["object"] == "invoice" and o["status"] == "paid")
    after = copy.deepcopy(before)
    for field in ("total", "amount_due", "amount_paid", "subtotal"):
        after[field] = int(after[field]) + 100
    after["lines"]["data"][0]["amount"] += 100
    rule = ApprovalRule(name="changed", object="invoice", total_changed_after_posting=True)
    flow = _flow(tmp_path, [rule])
    prior = RecordRow(
        key=f"stripe:invoice:{before['id']}", connection="stripe", object="invoice",
        source_id=before["id"], version="v0", snapshot=orjson.dumps(before),
        seen_at=datetime.now(UTC),
    )  # fmt: skip
    held = _check(flow, store, after, prior=prior, posted={"issue": "h"})
    assert held is not None and "total changed after posting" in held.message
    assert _check(flow, store, after, prior=prior) is None  # never posted: nothing changed
    assert _check(flow, store, before, prior=prior, posted={"issue": "h"}) is None  # same total


def test_a_decision_for_the_version_releases_or_rejects(
    tmp_path: Path, store: Store, objects: list[dict[str, Any]]
) -> None:
    gbp = _refund(objects, "gbp")
    key = f"stripe:refund:{gbp['id']}"
    flow = _flow(tmp_path, [ApprovalRule(name="refunds", over="20 GBP")])

    def decide(decision: str, version: str) -> None:
        store.decide_record(
            RecordDecisionRow(flow="f", record_key=key, version=version, rule="refunds",
                              decision=decision, reason="no", actor="bob"),  # type: ignore[arg-type]
            audit=AuditEvent(actor="bob", action=decision, record_key=key),
        )  # fmt: skip

    decide("approved", "v0")  # an older version's approval does not count
    assert _check(flow, store, gbp).kind == "hold"
    decide("rejected", "v1")
    assert _check(flow, store, gbp).kind == "reject"
    decide("approved", "v1")
    assert _check(flow, store, gbp) is None


def test_a_hold_outlives_its_rule(
    tmp_path: Path, store: Store, objects: list[dict[str, Any]]
) -> None:
    eur = _refund(objects, "eur")
    key = f"stripe:refund:{eur['id']}"
    now = datetime.now(UTC)
    store.commit(Batch(exceptions=[ExceptionRow(
        flow="f", record_key=key, version="v1", kind="held", field="approval", at=now,
        error="awaiting approval: big (held by an earlier rule)",
    )]))  # fmt: skip
    flow = _flow(tmp_path, [ApprovalRule(name="big", over="100000 EUR")])
    held = _check(flow, store, eur)
    assert held.kind == "hold" and held.rule == "big"
    assert _check(flow, store, eur, version="v2") is None  # a new version: the rule decides
    assert _check(_flow(tmp_path / "none", []), store, eur) is None  # no rules: no hook
