"""BottleCRM's connector without a CRM: its error kinds, list wrappers, signature check,
source model (the shared conformance suite) and redaction.

The CRM itself runs in tests/integration/crm; here only what a real CRM will not do on
demand (a 503, a 429, a timeout, a revoked token) goes through an `httpx.MockTransport`,
named as a fake of the CRM's HTTP answers in the shapes the recipe's cheat-sheet shows.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from billbridge.connectors.base import FatalError, RawRecord, RecordError, RetryableError
from billbridge.connectors.bottlecrm import (
    CrmApi,
    crm_webhook_check,
    model,
    parse_event,
    project,
    raw_bytes,
    redact,
    subjects,
)
from billbridge.connectors.source import SourceModel
from billbridge.connectors.webhooks import WebhookRefused
from billbridge.domain import Customer, Deal, Deleted, Invoice, InvoiceStatus, Money
from billbridge.testing import SourceConformance

ACCOUNT = {"id": "acc-1", "name": "Hooli", "email": "ap@hooli.example", "country": "DE",
           "city": "Berlin", "postcode": "10115", "address_line": "1 Main", "currency": "EUR",
           "custom_fields": {"billing_id": "stripe:customer:cus_1"}, "is_active": True,
           "created_at": "2026-01-05T10:00:00Z", "rollups": {"won_count": 3}}  # fmt: skip
CONTACT = {"id": "con-1", "first_name": "Gavin", "last_name": "Belson",
           "email": "gavin@hooli.example", "account": "acc-1",
           "created_at": "2026-01-05T10:01:00Z"}  # fmt: skip
DEAL = {"id": "deal-1", "name": "Hooli Pro", "account": {"id": "acc-1", "name": "Hooli"},
        "stage": "CLOSED_WON", "stage_kind": "won", "currency": "EUR", "amount": "49.00",
        "closed_on": "2026-01-06", "custom_fields": {"plan": "pro"},
        "created_at": "2026-01-05T10:02:00Z"}  # fmt: skip
INVOICE = {
    "id": "inv-1", "invoice_number": "INV-20260105-0001", "invoice_title": "Pro",
    "status": "Paid", "account": {"id": "acc-1", "name": "Hooli"},
    "contact": {"id": "con-1"}, "currency": "EUR", "subtotal": "100.00",
    "discount_amount": "0.00", "tax_amount": "19.00", "shipping_amount": "0.00",
    "total_amount": "119.00", "amount_paid": "119.00", "amount_due": "0.00",
    "issue_date": "2026-01-05", "due_date": "2026-02-04", "client_name": "Gavin Belson",
    "created_at": "2026-01-05T10:03:00Z",
    "line_items": [{"id": "l1", "description": "Pro", "quantity": "2.00",
                    "unit_price": "50.00", "discount_amount": "0.00", "tax_rate": "19.00",
                    "tax_amount": "19.00", "total": "119.00"}],
    "payments": [{"id": "p1", "amount": "119.00", "payment_date": "2026-01-07",
                  "reference_number": "in_1"}],
}  # fmt: skip


def record(kind: str, item: dict[str, Any]) -> RawRecord:
    data = project(kind, item)
    return RawRecord(object=kind, id=str(data["id"]), data=data, raw=raw_bytes(data), position="")


def api(handler: Callable[[httpx.Request], httpx.Response]) -> CrmApi:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return CrmApi(base_url="http://crm.test", token="bcrm_pat_x", page_size=2, client=client)


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (httpx.Response(503, json={"detail": "maintenance"}), RetryableError, "maintenance"),
        (httpx.Response(429, json={"detail": "slow down"}), RetryableError, "slow down"),
        (httpx.Response(401, json={"detail": "bad token"}), FatalError, "token"),
        (httpx.Response(403, json={"detail": "no"}), FatalError, "check `token`"),
        (
            httpx.Response(400, json={"error": True,
                                      "errors": {"name": ["Account already exists"]}}),
            RecordError, "name: Account already exists",
        ),
        (httpx.Response(409, json={"error": True, "errors": "still has invoices"}),
         RecordError, "still has invoices"),
    ],
)  # fmt: skip
def test_answers_are_sorted_by_what_happens_next(
    answer: httpx.Response, kind: type[Exception], words: str
) -> None:
    crm = api(lambda request: answer)
    with pytest.raises(kind) as raised:
        crm.call("POST", "/api/accounts/", {"name": "x"})
    assert words in str(raised.value)
    assert "bcrm_pat_x" not in str(raised.value)


def test_a_timeout_is_retryable_and_a_missing_object_is_none() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RetryableError, match="ReadTimeout"):
        api(timeout).call("GET", "/api/accounts/")
    gone = api(lambda request: httpx.Response(404, json={"detail": "Not found."}))
    assert gone.get_one("/api/accounts/x/") is None


def test_each_list_wrapper_is_paged_to_its_end() -> None:
    accounts = [{"id": f"a{i}"} for i in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        page = accounts[offset : offset + 2]
        if request.url.path == "/api/accounts/":
            return httpx.Response(
                200,
                json={
                    "active_accounts": {"open_accounts": page, "open_accounts_count": 5},
                    "closed_accounts": {"close_accounts": [], "close_accounts_count": 0},
                },
            )
        if request.url.path == "/api/contacts/":
            nxt = offset + 2 if offset + 2 < 5 else None
            return httpx.Response(200, json={"results": page, "offset": nxt})
        nxt_url = "http://crm.test/next" if offset + 2 < 5 else None
        return httpx.Response(200, json={"results": page, "next": nxt_url})  # fmt: skip

    crm = api(handler)
    for resource in ("accounts", "contacts", "invoices"):
        seen = [item["id"] for _, items, _ in crm.pages(resource) for item in items]
        assert seen == [a["id"] for a in accounts], resource


SECRET = "whsec_crm_test"


def signed(body: bytes, at: int, secret: str = SECRET) -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return {"x-bottlecrm-signature": f"t={at},v1={mac}"}


EVENT = orjson.dumps({"id": "ev-1", "event": "account.updated",
                      "created_at": "2026-01-05T10:00:00.123+00:00", "org_id": "o",
                      "data": {"id": "acc-1", "name": "Hooli"}})  # fmt: skip
NOW = 1_767_607_200.0  # 2026-01-05 10:00 UTC


def test_a_signed_delivery_is_accepted_and_named() -> None:
    event = crm_webhook_check(SECRET)(signed(EVENT, int(NOW)), EVENT, NOW)
    assert (event.event_id, event.type, event.object_key) == ("ev-1", "account.updated",
                                                              "customer:acc-1")  # fmt: skip
    assert event.created == 1_767_607_200


@pytest.mark.parametrize(
    ("headers", "body", "words"),
    [
        ({}, EVENT, "no X-BottleCRM-Signature"),
        (signed(EVENT, int(NOW), secret="whsec_other"), EVENT, "does not match"),
        (signed(EVENT, int(NOW)), EVENT.replace(b"Hooli", b"Hooly"), "does not match"),
        (signed(EVENT, int(NOW) - 301), EVENT, "ago"),
        (signed(EVENT, int(NOW) + 301), EVENT, "ahead"),
        ({"x-bottlecrm-signature": "v1=abc"}, EVENT, "is not `t="),
        (signed(b"[1]", int(NOW)), b"[1]", "not a JSON object"),
    ],
)
def test_forged_stale_future_and_malformed_deliveries_are_refused(
    headers: dict[str, str], body: bytes, words: str
) -> None:
    with pytest.raises(WebhookRefused) as refused:
        crm_webhook_check(SECRET)(headers, body, NOW)
    assert refused.value.status == 400
    assert words in refused.value.message
    assert SECRET not in refused.value.message


def test_records_read_as_canonical_values() -> None:
    norm = model().normalize
    held = {("customer", "acc-1"): project("customer", ACCOUNT)}

    def resolve(obj: str, ident: str) -> Any:
        return held.get((obj, ident))

    customer = norm(project("customer", ACCOUNT), record="crm:customer:acc-1", resolve=resolve)
    assert isinstance(customer.value, Customer)
    assert (customer.value.name, customer.value.address.country) == ("Hooli", "DE")
    deal = norm(project("deal", DEAL), record="crm:deal:deal-1", resolve=resolve).value
    assert deal == Deal(id="deal-1", name="Hooli Pro", customer="acc-1", stage="CLOSED_WON",
                        won=True, plan="pro", amount=Money(Decimal("49.00"), "EUR"),
                        closed_on=date(2026, 1, 6))  # fmt: skip
    invoice = norm(project("invoice", INVOICE), record="crm:invoice:inv-1", resolve=resolve).value
    assert isinstance(invoice, Invoice)
    assert invoice.status is InvoiceStatus.PAID and invoice.customer_name == "Hooli"
    assert invoice.total == Money(Decimal("119.00"), "EUR")
    assert invoice.paid_at is not None and invoice.paid_at.date() == date(2026, 1, 7)
    gone = norm({"object": "customer", "id": "acc-9", "deleted": True}, record="k",
                resolve=resolve)  # fmt: skip
    assert gone.value == Deleted(id="acc-9", object="customer")


def test_a_projection_ignores_what_changes_without_the_object_changing() -> None:
    moved = {**ACCOUNT, "rollups": {"won_count": 4}, "contacts": [{"id": "con-1"}]}
    assert raw_bytes(project("customer", moved)) == raw_bytes(project("customer", ACCOUNT))
    hook = {"id": "deal-1", "account_id": "acc-1", "stage": "CLOSED_WON"}
    assert project("deal", hook)["account"] == "acc-1"


def test_redaction_replaces_a_subjects_personal_fields_and_keeps_the_figures() -> None:
    erased = frozenset({"customer:acc-1"})
    invoice = project("invoice", INVOICE)
    assert subjects(invoice) == ["customer:acc-1", "contact:con-1"]
    out = redact(invoice, erased)
    assert "Gavin" not in orjson.dumps(out).decode()
    assert {k: out[k] for k in ("total_amount", "invoice_number", "issue_date", "status")} == {
        k: invoice[k] for k in ("total_amount", "invoice_number", "issue_date", "status")
    }
    account = redact(project("customer", ACCOUNT), erased)
    text = orjson.dumps(account).decode()
    assert "Hooli" not in text and "hooli.example" not in text and "1 Main" not in text
    assert redact(account, erased) == account  # the same stand-ins every time
    assert redact(project("customer", ACCOUNT), frozenset({"customer:other"})) == project(
        "customer", ACCOUNT
    )


class TestCrmSourceModel(SourceConformance):
    connection = "crm"

    def source_model(self) -> SourceModel:
        return model()

    def good_records(self) -> Sequence[RawRecord]:
        return [record("customer", ACCOUNT), record("contact", CONTACT), record("deal", DEAL),
                record("invoice", INVOICE)]  # fmt: skip

    def bad_records(self) -> Sequence[RawRecord]:
        return [
            record("customer", {**ACCOUNT, "name": ""}),
            record("deal", {**DEAL, "account": None}),
            record("invoice", {**INVOICE, "currency": "EURO"}),
            record("invoice", {**INVOICE, "total_amount": "lots"}),
            record("invoice", {**INVOICE, "status": "Lost"}),
        ]

    def events(self) -> Sequence[bytes]:
        return [EVENT]


def test_an_event_is_filed_under_its_record_key() -> None:
    raw = parse_event(EVENT)
    assert (raw.object, raw.id, raw.data["name"]) == ("customer", "acc-1", "Hooli")
