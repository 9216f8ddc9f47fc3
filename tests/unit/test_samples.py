"""The sample generator: clean data except the documented faults, deterministic, consistent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from billbridge.domain import Invoice, InvoiceStatus, Payment
from billbridge.formats.stripe import POSTABLE_OBJECTS, REFERENCE_OBJECTS, normalize
from billbridge.samples import (
    FAULT_IDS,
    SAMPLE_PRODUCTS,
    SAMPLE_TAX_PERCENT_RATES,
    SAMPLE_TAX_RATES,
    generate,
    write_jsonl,
)


def normalize_all(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Normalize in order as the engine would (records held as they arrive)."""
    held: dict[tuple[str, str], Mapping[str, Any]] = {}

    def resolve(obj: str, ident: str) -> Mapping[str, Any] | None:
        return held.get((obj, ident))

    out: dict[str, Any] = {}
    for data in objects:
        held[(data["object"], data["id"])] = data
        if data["object"] == "invoice_payment":
            held[("invoice_payment_by_payment", data["payment"]["payment_intent"])] = data
        out[data["id"]] = normalize(
            data, record=f"stripe:{data['object']}:{data['id']}", resolve=resolve
        )
    return out


@pytest.mark.parametrize("api", ["current", "2017-08-15"])
def test_clean_except_documented_faults(api: Any) -> None:
    objects = list(generate(invoices=600, seed=3, api=api, faults=True))
    results = normalize_all(objects)
    failing = {ident for ident, n in results.items() if n.problems}
    assert failing == {"in_fault_bad_currency", "in_fault_total_mismatch"}
    assert results["in_fault_bad_currency"].problems[0].field == "currency"
    assert results["in_fault_total_mismatch"].problems[0].field == "total"
    assert not any(n.waiting_on for n in results.values())
    unmapped = results["in_fault_unmapped_tax"].value
    assert isinstance(unmapped, Invoice)
    assert {t.rate for line in unmapped.lines for t in line.taxes} == {"txr_unmapped_xx"}
    early = results["ch_fault_early"].value
    assert isinstance(early, Payment)
    assert early.invoice == "in_fault_early"
    order = [o["id"] for o in objects]
    assert order.index("ch_fault_early") < order.index("in_fault_early")
    assert set(FAULT_IDS) <= set(order)
    kinds = Counter(o["object"] for o in objects)
    assert set(kinds) <= POSTABLE_OBJECTS | REFERENCE_OBJECTS
    assert kinds["refund"] > 0 and kinds["payout"] > 0
    if api == "current":
        assert kinds["credit_note"] > 0
    created = [o["created"] for o in objects]
    assert created == sorted(created)


def test_without_faults_everything_normalizes() -> None:
    objects = list(generate(invoices=300, seed=9))
    assert not any(n.problems for n in normalize_all(objects).values())
    assert not any(o["id"] in FAULT_IDS for o in objects)


def test_deterministic_per_seed() -> None:
    def dump(seed: int) -> bytes:
        return b"".join(orjson.dumps(o) for o in generate(invoices=200, seed=seed, faults=True))

    assert dump(1) == dump(1)
    assert dump(1) != dump(2)


@pytest.mark.parametrize("api", ["current", "2017-08-15"])
def test_per_currency_totals(api: Any) -> None:
    objects = list(generate(invoices=800, seed=5, api=api))
    results = normalize_all(objects)
    paid: Counter[str] = Counter()
    charged: Counter[str] = Counter()
    nets: Counter[str] = Counter()
    paid_out: Counter[str] = Counter()
    currencies = set()
    for o in objects:
        v = results[o["id"]].value
        if isinstance(v, Invoice):
            currencies.add(v.currency)
            if v.status is InvoiceStatus.PAID:
                paid[v.currency] += v.total.minor
                assert v.amount_paid == v.total
            assert v.status in (InvoiceStatus.PAID, InvoiceStatus.VOID)
            assert {line.product for line in v.lines} <= set(SAMPLE_PRODUCTS)
            rates = {t.rate for line in v.lines for t in line.taxes}
            known = set(SAMPLE_TAX_RATES) if api == "current" else set(SAMPLE_TAX_PERCENT_RATES)
            assert rates <= known
        elif isinstance(v, Payment):
            charged[v.gross.currency] += v.gross.minor
            assert v.gross == v.fee + v.net
        if o["object"] == "balance_transaction":
            nets[o["currency"]] += o["net"]
        if o["object"] == "payout":
            paid_out[o["currency"]] += o["amount"]
    assert currencies == {"EUR", "USD", "GBP", "JPY", "KWD"}
    assert paid == charged
    for cur, amount in paid_out.items():
        assert 0 < amount <= nets[cur]


def test_write_jsonl(tmp_path: Any) -> None:
    path = tmp_path / "export.jsonl"
    count = write_jsonl(path, generate(invoices=20, seed=1))
    lines = path.read_bytes().splitlines()
    assert count == len(lines) > 20
    assert orjson.loads(lines[0])["object"] == "customer"


def test_constant_memory_stream() -> None:
    stream = generate(invoices=10**9, seed=0)
    first = [next(stream) for _ in range(2000)]  # a generator: nothing is built up front
    assert len(first) == 2000
