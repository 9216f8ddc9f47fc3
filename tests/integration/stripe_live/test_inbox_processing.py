"""`process_inbox` on its own: batches of `limit`, oldest first, stale events skipped."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from billbridge.engine.inbox import process_inbox
from billbridge.samples import generate
from billbridge.wiring import flows, open_workspace_store

from ._webhooks import event, webhook_workspace


def test_pending_events_drain_in_batches_oldest_first(tmp_path: Path) -> None:
    workspace = webhook_workspace(tmp_path / "ws")
    objects = [o for o in generate(invoices=3, seed=9, api="current") if o["object"] == "invoice"]
    now = int(time.time())
    store = open_workspace_store(workspace)
    for n, invoice in enumerate(objects):
        store.inbox_add(
            event_id=f"evt_{n}",
            connection="stripe",
            type="invoice.finalized",
            object_key=f"stripe:invoice:{invoice['id']}",
            created=now + n,
            payload=event(invoice, type="invoice.finalized", created=now + n, ident=f"evt_{n}"),
        )
    stale = {**objects[0], "metadata": {"late": "yes"}}
    store.inbox_add(
        event_id="evt_late",
        connection="stripe",
        type="invoice.updated",
        object_key=f"stripe:invoice:{objects[0]['id']}",
        created=now - 100,
        payload=event(stale, type="invoice.updated", created=now - 100, ident="evt_late"),
    )
    with flows(workspace) as lookup:
        flow = lookup("stripe-to-books")
        first = process_inbox(flow, store, limit=2)
        # the late event is the oldest, so it goes first: nothing newer applied yet
        assert first.processed == ["evt_late", "evt_0"]
        second = process_inbox(flow, store, limit=2)
        assert second.processed == ["evt_1", "evt_2"]
        assert process_inbox(flow, store, limit=2).processed == []
    record = store.get_record(f"stripe:invoice:{objects[0]['id']}")
    assert record is not None and orjson.loads(record.snapshot).get("metadata") != {"late": "yes"}
    assert store.inbox_pending("stripe") == []
    store.close()
