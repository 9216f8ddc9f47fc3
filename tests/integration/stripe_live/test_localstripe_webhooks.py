"""localstripe's own signed webhooks reach the receiver and post the invoice once.

localstripe signs each event with the secret registered at `POST /_config/webhooks/{id}`
(`Stripe-Signature: t=…,v1=…`, HMAC-SHA256), like Stripe, and sends it about a second
after the change. The receiver runs under uvicorn on a loopback port.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

import stripe
from beancount import loader

from billbridge.service.stripe_webhooks import create_webhook_app
from billbridge.wiring import open_workspace_store

from ._data import customer
from ._webhooks import SECRET, serving, wait_for, webhook_workspace
from .conftest import TEST_KEY


def _register(localstripe: str, hook: str, url: str) -> None:
    body = urllib.parse.urlencode({"url": url, "secret": SECRET}).encode()
    request = urllib.request.Request(f"{localstripe}/_config/webhooks/{hook}", data=body)
    request.add_header("Authorization", f"Bearer {TEST_KEY}")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def test_localstripe_signed_events_are_received_and_posted_once(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    workspace = webhook_workspace(tmp_path / "ws", api_base=localstripe)
    with serving(create_webhook_app(workspace, flow="stripe-to-books")) as base:
        _register(localstripe, "billbridge-test", f"{base}/webhooks/stripe")
        product = stripe_client.v1.products.create(params={"name": "Hosting"})
        plan = stripe_client.v1.plans.create(
            params={"product": product.id, "amount": 4200, "currency": "eur", "interval": "month"}
        )
        cus, _ = customer(stripe_client, "hooked")
        stripe_client.v1.subscriptions.create(
            params={"customer": cus, "items": [{"plan": plan.id}]}
        )
        (invoice,) = stripe_client.v1.invoices.list(params={"customer": cus}).data
        key = f"stripe:invoice:{invoice.id}"

        def posted() -> bool:
            store = open_workspace_store(workspace)
            try:
                return bool(store.postings_for(key))
            finally:
                store.close()

        assert wait_for(posted, timeout=20)
    store = open_workspace_store(workspace)
    assert store.inbox_pending("stripe") == []
    assert store.get_record(f"stripe:customer:{cus}") is not None  # customer.created arrived
    store.close()
    entries, errors, _ = loader.load_file(str(workspace.root / "books" / "main.beancount"))
    assert errors == []
    keys = [e.meta.get("billbridge-key") for e in entries]
    assert keys.count(key) == 1
