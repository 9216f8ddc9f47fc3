"""Two flows read one Stripe connection: every webhook event is posted by both, once each.

Why: the inbox once held one row per event, so the first flow to drain it marked it
processed and the second flow never posted it. Events go to the first flow's endpoint
only (one endpoint registered in Stripe is enough); a redelivery to the second flow's
endpoint stores nothing new.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from billbridge.config import load_workspace
from billbridge.connectors.beancount import posted_keys
from billbridge.samples import generate
from billbridge.service.stripe_webhooks import create_webhook_app
from billbridge.wiring import open_workspace_store

from ._webhooks import KEY, SECRET, event, serving, signature, wait_for, webhook_workspace

SECOND = "stripe-to-audit-books"


def _with_second_flow(root: Path) -> None:
    config = root / "billbridge.yaml"
    text = config.read_text()
    text = text.replace(
        "flows:\n",
        "  audit-books:\n    connector: beancount\n    path: audit/main.beancount\nflows:\n",
    )
    text = text.replace(
        "state:",
        f"  - name: {SECOND}\n    from: stripe\n    to: audit-books\n    mapping: mapping.yaml\n"
        "state:",
    )
    config.write_text(text)


def test_each_flow_posts_every_event_once(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    webhook_workspace(root)
    _with_second_flow(root)
    workspace = load_workspace(root, env={"STRIPE_API_KEY": KEY, "STRIPE_WEBHOOK_SECRET": SECRET})
    invoices = [o for o in generate(invoices=3, seed=9, api="current") if o["object"] == "invoice"]
    payloads = [
        event(inv, type="invoice.finalized", created=int(time.time()), ident=f"evt_{n}")
        for n, inv in enumerate(invoices)
    ]

    def post(base: str, payload: bytes) -> httpx.Response:
        headers = {"Stripe-Signature": signature(payload)}
        return httpx.post(f"{base}/webhooks/stripe", content=payload, headers=headers, timeout=10)

    with serving(create_webhook_app(workspace, flow="stripe-to-books")) as base:
        for payload in payloads:
            assert post(base, payload).json()["duplicate"] is False

        def settled() -> bool:
            store = open_workspace_store(workspace)
            try:
                return store.inbox_pending("stripe") == []
            finally:
                store.close()

        assert wait_for(settled)

    expected = {f"stripe:invoice:{inv['id']}" for inv in invoices}
    for ledger, flow in (("books", "stripe-to-books"), ("audit", SECOND)):
        counts = posted_keys(root / ledger / "main.beancount")
        assert {k.split("|")[1] for k in counts} == expected, ledger
        assert set(counts.values()) == {1}, ledger
        assert all(k.startswith(f"{flow}|") for k in counts)

    with serving(create_webhook_app(workspace, flow=SECOND)) as base:
        assert post(base, payloads[0]).json()["duplicate"] is True
    store = open_workspace_store(workspace)
    try:
        rows = {(f, store.inbox_get("evt_0", flow=f)) for f in ("stripe-to-books", SECOND)}
        assert {(f, row.status if row else None) for f, row in rows} == {
            ("stripe-to-books", "processed"),
            (SECOND, "processed"),
        }
        inbox = store.monitor_counts().inbox["stripe"]  # status and /metrics count events
        assert (inbox.received, inbox.pending) == (3, 0)
    finally:
        store.close()
