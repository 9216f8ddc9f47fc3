"""Two events about one object in the same second never move it backwards (issue 13, #11).

Stripe stamps `created` in whole seconds and does not promise delivery order: an
invoice's `invoice.finalized` and `invoice.paid` often share a second and may arrive
paid-first. The object's own state decides then (an invoice never goes from `paid`
back to `open`), on both state stores, within one pass and across passes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from billbridge.config import Workspace
from billbridge.engine.inbox import process_inbox
from billbridge.samples import generate
from billbridge.store.base import Store
from billbridge.wiring import flows, open_workspace_store

from ._webhooks import event, webhook_workspace


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    monkeypatch.setenv("BILLBRIDGE_STATE", url)
    return webhook_workspace(tmp_path / "ws")


@pytest.fixture
def store(workspace: Workspace) -> Iterator[Store]:
    opened = open_workspace_store(workspace)
    try:
        yield opened
    finally:
        opened.close()


def _invoices() -> tuple[dict[str, Any], dict[str, Any]]:
    """One invoice as `invoice.finalized` (open) and as `invoice.paid` shows it."""
    paid = next(o for o in generate(invoices=1, seed=3, api="current") if o["object"] == "invoice")
    assert paid["status"] == "paid"
    transitions = {**paid["status_transitions"], "paid_at": None}
    opened = {**paid, "status": "open", "amount_paid": 0, "status_transitions": transitions}
    return opened, paid


def _add(store: Store, obj: dict[str, Any], *, type: str, created: int, ident: str) -> None:
    store.inbox_add(
        event_id=ident,
        connection="stripe",
        type=type,
        object_key=f"stripe:invoice:{obj['id']}",
        created=created,
        payload=event(obj, type=type, created=created, ident=ident),
        flows=("stripe-to-books",),
    )


def _status(store: Store, invoice: dict[str, Any]) -> str:
    record = store.get_record(f"stripe:invoice:{invoice['id']}")
    assert record is not None
    return str(orjson.loads(record.snapshot)["status"])


@pytest.mark.parametrize("passes", [1, 2], ids=["one-pass", "two-passes"])
def test_a_paid_invoice_stays_paid_when_finalized_arrives_second(
    workspace: Workspace, store: Store, passes: int
) -> None:
    opened, paid = _invoices()
    now = int(time.time())
    with flows(workspace) as lookup:
        flow = lookup("stripe-to-books")
        _add(store, paid, type="invoice.paid", created=now, ident="evt_1_paid")
        if passes == 2:
            assert process_inbox(flow, store).processed == ["evt_1_paid"]
        _add(store, opened, type="invoice.finalized", created=now, ident="evt_2_finalized")
        result = process_inbox(flow, store)
    assert result.stale == ["evt_2_finalized"]
    assert _status(store, paid) == "paid"
    row = store.inbox_get("evt_2_finalized", flow="stripe-to-books")
    assert row is not None and row.status == "stale"
    key = f"stripe:invoice:{paid['id']}"
    (audit,) = [a for a in store.audit_rows(record_key=key) if a.action == "ignored-stale-event"]
    assert audit.diff["event"] == [None, "evt_2_finalized"]
    assert audit.diff["event_created"] == [now, now]
    assert audit.diff["lifecycle"] == [[3, paid["amount_paid"]], [1, 0]]


def test_in_order_events_of_one_second_are_both_applied(workspace: Workspace, store: Store) -> None:
    opened, paid = _invoices()
    now = int(time.time())
    _add(store, opened, type="invoice.finalized", created=now, ident="evt_1_finalized")
    _add(store, paid, type="invoice.paid", created=now, ident="evt_2_paid")
    with flows(workspace) as lookup:
        result = process_inbox(lookup("stripe-to-books"), store)
    assert result.processed == ["evt_1_finalized", "evt_2_paid"] and result.stale == []
    assert _status(store, paid) == "paid"
