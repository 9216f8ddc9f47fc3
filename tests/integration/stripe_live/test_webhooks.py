"""The webhook receiver as an ASGI app: every rejection, dedupe, inbox-first, order.

Events are Stripe-shaped JSON (the envelope from Stripe's API reference, objects from
`billbridge.samples` in the current API shape), signed like Stripe signs them. The
store and the Beancount ledger are real files; the app is served by uvicorn on a
loopback port and called over HTTP. Processing runs after the answer, so tests wait
for the inbox row to leave `pending`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from beancount import loader

from billbridge.config import Workspace
from billbridge.samples import generate
from billbridge.service.stripe_webhooks import create_webhook_app
from billbridge.wiring import open_workspace_store

from ._webhooks import event, serving, signature, wait_for, webhook_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return webhook_workspace(tmp_path / "ws")


@pytest.fixture
def objects() -> dict[str, dict[str, Any]]:
    return {o["object"]: o for o in generate(invoices=1, seed=3, api="current")}


class Client:
    def __init__(self, workspace: Workspace, **options: Any) -> None:
        self.workspace = workspace
        self.options = options

    def __enter__(self) -> Client:
        self._serving = serving(
            create_webhook_app(self.workspace, flow="stripe-to-books", **self.options)
        )
        self.http = httpx.Client(base_url=self._serving.__enter__(), timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self._serving.__exit__(None, None, None)


def _post(client: Client, payload: bytes, sig: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if sig is not None:
        headers["Stripe-Signature"] = sig
    return client.http.post("/webhooks/stripe", content=payload, headers=headers)


def _settled(workspace: Workspace, *event_ids: str) -> bool:
    store = open_workspace_store(workspace)
    try:
        rows = [store.inbox_get(e) for e in event_ids]
        return all(r is not None and r.status != "pending" for r in rows)
    finally:
        store.close()


def _keys(workspace: Workspace) -> list[str]:
    ledger = workspace.root / "books" / "main.beancount"
    if not ledger.exists():  # the target is created by the first write
        return []
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    return [e.meta["billbridge-key"] for e in entries if "billbridge-key" in e.meta]


def test_signed_event_is_stored_then_posted_once(
    workspace: Workspace, objects: dict[str, dict[str, Any]]
) -> None:
    now = int(time.time())
    payload = event(objects["invoice"], type="invoice.finalized", created=now, ident="evt_1")
    with Client(workspace) as client:
        first = _post(client, payload, signature(payload))
        assert first.status_code == 200
        assert first.json() == {"received": "evt_1", "duplicate": False}
        assert wait_for(lambda: _settled(workspace, "evt_1"))
        again = _post(client, payload, signature(payload))
        assert again.json() == {"received": "evt_1", "duplicate": True}
    invoice_key = f"stripe:invoice:{objects['invoice']['id']}"
    assert _keys(workspace).count(invoice_key) == 1
    store = open_workspace_store(workspace)
    row = store.inbox_get("evt_1")
    assert row is not None and row.status == "processed"
    assert store.inbox_pending("stripe") == []
    head = store.audit_head()
    store.close()
    # the drain's run ended with the audit chain anchored (issue 13, #10); the second
    # delivery added no rows, so no second line
    anchors = (workspace.root / ".billbridge" / "audit-anchors").read_bytes().splitlines()
    assert head is not None and [orjson.loads(a)["seq"] for a in anchors] == [head.seq]


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("unsigned", 400, "no Stripe-Signature"),
        ("forged", 400, "signature rejected"),
        ("stale", 400, "signature rejected"),
        ("from-the-future", 400, "ahead of this server's clock"),
        ("future-forged", 400, "signature rejected"),
        ("oversized", 413, "over"),
        ("not-json", 400, "not JSON"),
        ("not-utf8", 400, "not UTF-8"),
        ("no-object", 400, "data.object"),
        ("no-id", 400, "no `id`"),
    ],
)
def test_bad_requests_are_rejected_and_never_reach_the_pipeline(
    workspace: Workspace,
    objects: dict[str, dict[str, Any]],
    case: str,
    status: int,
    message: str,
) -> None:
    now = int(time.time())
    good = event(objects["invoice"], type="invoice.finalized", created=now, ident="evt_x")
    payload, sig = good, signature(good)
    if case == "unsigned":
        sig = None
    elif case == "forged":
        sig = signature(good, secret="whsec_someone_else")
    elif case == "stale":
        sig = signature(good, at=now - 3600)
    elif case == "from-the-future":  # validly signed, stamped an hour ahead
        sig = signature(good, at=now + 3600)
    elif case == "future-forged":
        sig = signature(good.replace(b"evt_x", b"evt_y"), at=now)
    elif case == "oversized":
        big = {**objects["invoice"], "description": "x" * 600_000}
        payload = event(big, type="invoice.finalized", created=now, ident="evt_x")
        sig = signature(payload)
    elif case == "not-json":
        payload = b"{not json"
        sig = signature(payload)
    elif case == "not-utf8":
        payload = b'{"id": "\xff"}'
        sig = signature(payload)
    elif case == "no-object":
        payload = b'{"id": "evt_x", "type": "invoice.finalized", "created": 1, "data": {}}'
        sig = signature(payload)
    elif case == "no-id":
        payload = b'{"type": "invoice.finalized", "created": 1, "data": {"object": {}}}'
        sig = signature(payload)
    with Client(workspace) as client:
        response = _post(client, payload, sig)
    assert response.status_code == status
    assert message in response.json()["error"]
    store = open_workspace_store(workspace)
    assert store.inbox_get("evt_x") is None
    assert store.list_runs() == []
    store.close()
    assert _keys(workspace) == []


def test_a_clock_a_little_ahead_is_within_the_tolerance(
    workspace: Workspace, objects: dict[str, dict[str, Any]]
) -> None:
    now = int(time.time())
    payload = event(objects["invoice"], type="invoice.finalized", created=now, ident="evt_skew")
    with Client(workspace, process=False) as client:
        assert _post(client, payload, signature(payload, at=now + 60)).status_code == 200
        assert _post(client, payload, signature(payload, at=now + 400)).status_code == 400


def test_older_event_never_moves_a_record_backwards(
    workspace: Workspace, objects: dict[str, dict[str, Any]]
) -> None:
    invoice = objects["invoice"]
    now = int(time.time())
    newer = {**invoice, "metadata": {"state": "newer"}}
    older = {**invoice, "metadata": {"state": "older"}}
    p2 = event(newer, type="invoice.updated", created=now, ident="evt_new")
    p1 = event(older, type="invoice.updated", created=now - 60, ident="evt_old")
    with Client(workspace) as client:
        assert _post(client, p2, signature(p2)).status_code == 200
        assert wait_for(lambda: _settled(workspace, "evt_new"))
        assert _post(client, p1, signature(p1)).status_code == 200
        assert wait_for(lambda: _settled(workspace, "evt_old"))
    store = open_workspace_store(workspace)
    key = f"stripe:invoice:{invoice['id']}"
    old_row = store.inbox_get("evt_old")
    assert old_row is not None and old_row.status == "stale"
    record = store.get_record(key)
    assert record is not None and b'"newer"' in record.snapshot
    audit = [a for a in store.audit_rows(record_key=key) if a.action == "ignored-stale-event"]
    assert len(audit) == 1
    assert audit[0].diff["event"] == [None, "evt_old"]
    store.close()


def test_events_answered_before_processing_are_processed_later(
    workspace: Workspace, objects: dict[str, dict[str, Any]]
) -> None:
    """A crash after the 2xx: the event waits in the inbox; the next pass processes it."""
    now = int(time.time())
    payload = event(objects["invoice"], type="invoice.finalized", created=now, ident="evt_1")
    with Client(workspace, process=False) as storing_only:
        assert _post(storing_only, payload, signature(payload)).status_code == 200
    store = open_workspace_store(workspace)
    assert [r.event_id for r in store.inbox_pending("stripe")] == ["evt_1"]
    assert _keys(workspace) == []
    # a restarted receiver: the next delivery (any event) drains the inbox
    customer = event(objects["customer"], type="customer.updated", created=now, ident="evt_2")
    with Client(workspace) as client:
        assert _post(client, customer, signature(customer)).status_code == 200
        assert wait_for(lambda: _settled(workspace, "evt_1", "evt_2"))
    assert store.inbox_pending("stripe") == []
    assert f"stripe:invoice:{objects['invoice']['id']}" in _keys(workspace)
    store.close()


def test_events_about_objects_billbridge_does_not_read_are_not_stored(
    workspace: Workspace,
) -> None:
    pm = {"object": "payment_method", "id": "pm_1", "type": "card"}
    payload = event(pm, type="payment_method.attached", created=int(time.time()), ident="evt_pm")
    with Client(workspace) as client:
        response = _post(client, payload, signature(payload))
    assert response.json() == {"received": "evt_pm", "ignored": "payment_method"}
    store = open_workspace_store(workspace)
    assert store.inbox_get("evt_pm") is None
    store.close()


def test_a_connection_without_webhook_secret_is_refused(tmp_path: Path) -> None:
    from billbridge.config import load_workspace

    ws = webhook_workspace(tmp_path / "ws")
    config = ws.root / "billbridge.yaml"
    secret_line = "    webhook_secret: ${STRIPE_WEBHOOK_SECRET}\n"
    config.write_text(config.read_text().replace(secret_line, ""))
    bare = load_workspace(ws.root, env={"STRIPE_API_KEY": "sk_test_x"})
    with pytest.raises(ValueError, match="webhook_secret"):
        create_webhook_app(bare, flow="stripe-to-books")
