"""Write-back against localstripe, through a TCP proxy that drops answers.

localstripe ignores idempotency keys, so a blind retry after a dropped answer would
create a second customer: these tests show the look-up by metadata prevents it.
`paid_out_of_band` is not in localstripe; that path is tested against a small
Stripe-shaped server built from Stripe's API reference (`POST /v1/invoices/{id}/pay`).
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from billbridge.connectors.base import RecordError
from billbridge.connectors.stripe_api import StripeApi, StripeWriteBack, idempotency_key

from ._data import CARD
from ._proxy import dropping_proxy
from .conftest import TEST_KEY


def _customers_with_key(client: stripe.StripeClient, key: str) -> list[str]:
    listed = client.v1.customers.list(params={"limit": 100}).data
    return [c.id for c in listed if c.to_dict().get("metadata", {}).get("billbridge_key") == key]


def test_create_customer_tags_it_with_the_record_key(
    stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    wb = StripeWriteBack(StripeApi(api_key=TEST_KEY, api_base=localstripe))
    pushed = wb.push_customer(
        record_key="crm:customer:42",
        version="v1",
        fields={"name": "Globex", "email": "ap@globex.example"},
    )
    assert pushed.how == "created"
    again = wb.push_customer(
        record_key="crm:customer:42",
        version="v2",
        fields={"name": "Globex Corp"},
        stripe_id=pushed.id,
    )
    assert again.how == "updated"
    fetched = stripe_client.v1.customers.retrieve(pushed.id)
    assert fetched.name == "Globex Corp"
    assert _customers_with_key(stripe_client, "crm:customer:42") == [pushed.id]


def test_dropped_answer_after_create_is_found_not_duplicated(
    stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    with dropping_proxy(localstripe) as proxy:
        wb = StripeWriteBack(
            StripeApi(api_key=TEST_KEY, api_base=f"http://127.0.0.1:{proxy.port}", timeout=5)
        )
        proxy.drop_next_response()
        pushed = wb.push_customer(
            record_key="crm:customer:7",
            version="v1",
            fields={"name": "Initech", "email": "billing@initech.example"},
        )
        assert proxy.dropped == 1
    assert pushed.how == "found"
    assert _customers_with_key(stripe_client, "crm:customer:7") == [pushed.id]


def test_dropped_answer_after_void_is_resolved_by_reading_the_invoice(
    stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    cus = stripe_client.v1.customers.create(params={"name": "Declined"})
    pm = stripe_client.v1.payment_methods.create(
        params={"type": "card", "card": {**CARD, "number": "4000000000000341"}}  # type: ignore[typeddict-item]
    )
    stripe_client.v1.payment_methods.attach(pm.id, params={"customer": cus.id})
    stripe_client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    product = stripe_client.v1.products.create(params={"name": "Hosting"})
    plan = stripe_client.v1.plans.create(
        params={"product": product.id, "amount": 900, "currency": "eur", "interval": "month"}
    )
    with contextlib.suppress(stripe.CardError):
        stripe_client.v1.subscriptions.create(
            params={"customer": cus.id, "items": [{"plan": plan.id}]}
        )
    (invoice,) = stripe_client.v1.invoices.list(params={"customer": cus.id}).data
    assert invoice.status == "open"
    with dropping_proxy(localstripe) as proxy:
        wb = StripeWriteBack(
            StripeApi(api_key=TEST_KEY, api_base=f"http://127.0.0.1:{proxy.port}", timeout=5)
        )
        proxy.drop_next_response()
        # the GET of the current status goes through; the POST's answer is dropped
        key = f"stripe:invoice:{invoice.id}"
        pushed = wb.void_invoice(invoice.id, record_key=key, version="1")
    assert pushed.how == "found"
    assert stripe_client.v1.invoices.retrieve(invoice.id).status == "void"
    # already void: nothing is sent
    again = StripeWriteBack(StripeApi(api_key=TEST_KEY, api_base=localstripe)).void_invoice(
        invoice.id, record_key=f"stripe:invoice:{invoice.id}", version="1"
    )
    assert again.how == "unchanged"


def test_unknown_customer_field_is_a_record_error(localstripe: str) -> None:
    wb = StripeWriteBack(StripeApi(api_key=TEST_KEY, api_base=localstripe))
    with pytest.raises(RecordError, match="card_number"):
        wb.push_customer(record_key="k", version="1", fields={"card_number": "4242"})


def test_idempotency_keys_follow_record_and_version() -> None:
    a = idempotency_key("crm:customer:1", "v1", "create-customer")
    assert a == idempotency_key("crm:customer:1", "v1", "create-customer")
    assert a != idempotency_key("crm:customer:1", "v2", "create-customer")
    assert a != idempotency_key("crm:customer:2", "v1", "create-customer")


class _InvoiceServer:
    """`GET /v1/invoices/in_1` and `POST /v1/invoices/in_1/pay` as Stripe's reference shows.

    `drop_first_pay` applies the payment and closes the connection without an answer.
    """

    def __init__(self, *, drop_first_pay: bool) -> None:
        self.invoice = {"id": "in_1", "object": "invoice", "status": "open", "paid": False}
        self.drop = drop_first_pay
        self.pay_requests: list[tuple[str, str]] = []  # (body, Idempotency-Key)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _json(self, body: dict[str, object]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                self._json(server.invoice)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                server.pay_requests.append((body, self.headers.get("Idempotency-Key", "")))
                server.invoice = {**server.invoice, "status": "paid", "paid": True}
                if server.drop:
                    server.drop = False
                    self.close_connection = True
                    return
                self._json(server.invoice)

        return Handler


@pytest.mark.parametrize("drop", [False, True])
def test_mark_paid_out_of_band(drop: bool) -> None:
    fake = _InvoiceServer(drop_first_pay=drop)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        api = StripeApi(api_key=TEST_KEY, api_base=f"http://127.0.0.1:{httpd.server_address[1]}")
        pushed = StripeWriteBack(api).mark_invoice_paid(
            "in_1", record_key="books:payment:77", version="3"
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert pushed.how == ("found" if drop else "updated")
    assert len(fake.pay_requests) == 1  # an ambiguous pay is looked up, never sent twice
    body, key = fake.pay_requests[0]
    assert "paid_out_of_band=true" in body
    assert key == idempotency_key("books:payment:77", "3", "pay-invoice")
