"""`billbridge serve` mounts the Stripe webhook receiver for flows with a `webhook_secret`."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from billbridge.samples import generate
from billbridge.service.app import create_app, webhook_paths
from billbridge.wiring import open_workspace_store

from ._webhooks import event, serving, signature, wait_for, webhook_workspace


def test_the_service_receives_signed_events_and_rejects_unsigned_ones(tmp_path: Path) -> None:
    workspace = webhook_workspace(tmp_path / "ws")
    assert webhook_paths(workspace) == {
        "/webhooks/stripe/stripe-to-books": "stripe-to-books",
        "/webhooks/stripe": "stripe-to-books",
    }
    invoice = next(
        o for o in generate(invoices=1, seed=3, api="current") if o["object"] == "invoice"
    )
    payload = event(invoice, type="invoice.finalized", created=int(time.time()), ident="evt_s1")
    headers = {"Content-Type": "application/json"}
    with serving(create_app(workspace)) as url, httpx.Client(base_url=url, timeout=10) as http:
        unsigned = http.post("/webhooks/stripe", content=payload, headers=headers)
        assert unsigned.status_code == 400
        signed = http.post(
            "/webhooks/stripe/stripe-to-books",
            content=payload,
            headers={**headers, "Stripe-Signature": signature(payload)},
        )
        assert signed.status_code == 200

        def processed() -> bool:
            store = open_workspace_store(workspace)
            try:
                row = store.inbox_get("evt_s1")
                return row is not None and row.status == "processed"
            finally:
                store.close()

        assert wait_for(processed)
    ledger = (workspace.root / "books" / "billbridge.beancount").read_text()
    assert ledger.count(f'billbridge-key: "stripe:invoice:{invoice["id"]}"') == 1
