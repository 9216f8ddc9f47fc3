"""The `bottlecrm` connector against a real BottleCRM: what it reads, writes and verifies.

What is checked is what the CRM holds, read back over its API: the source reads every
object once, in shapes that do not change when nothing changed (a won deal moves its
account's roll-ups, not the account's version); a webhook's short copy, completed,
is the same record the list gave; customers pass the shared record-target suite; an
invoice written back carries its status, amount due and last payment date as payment
records, is found again by our key, and a repeated write records no second payment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from billbridge.connectors.base import RecordError
from billbridge.connectors.bottlecrm import BottleCrmRecordTarget, BottleCrmSource, CrmApi, model
from billbridge.connectors.records import RecordTarget
from billbridge.domain import (
    Address,
    Canonical,
    Customer,
    Deal,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Money,
)
from billbridge.testing import RecordTargetConformance
from tests.crm_server import CrmServer

pytestmark = pytest.mark.crm


_OPEN: list[CrmApi] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def crm_api(crm: CrmServer) -> CrmApi:
    api = CrmApi(base_url=crm.base_url, token=crm.token, page_size=2)
    _OPEN.append(api)
    return api


def ok(answer: tuple[int, Any]) -> Any:
    status, body = answer
    assert status in (200, 201), body
    return body


def invoice(**changes: Any) -> Invoice:
    eur = "EUR"
    base = Invoice(
        id="in_1", number="HB-0001", customer="cus_1", customer_name="Hooli", currency=eur,
        status=InvoiceStatus.OPEN, created=datetime(2026, 1, 5, tzinfo=UTC),
        lines=(InvoiceLine(id="l1", description="Pro plan", quantity=Decimal(1),
                           amount=Money(Decimal("40.00"), eur),
                           discount=Money(Decimal("0.00"), eur)),),
        subtotal=Money(Decimal("40.00"), eur), tax=Money(Decimal("7.60"), eur),
        total=Money(Decimal("47.60"), eur), amount_paid=Money(Decimal("0.00"), eur),
    )  # fmt: skip
    return replace(base, **changes)


def test_the_source_reads_every_object_once_in_stable_shapes(crm: CrmServer) -> None:
    ok(crm.api("POST", "/api/custom-fields/", {"target_model": "Opportunity", "key": "plan",
                                               "label": "Plan", "field_type": "text"}))  # fmt: skip
    accounts = [ok(crm.api("POST", "/api/accounts/", {"name": f"Acct {n}", "country": "DE"}))
                for n in range(5)]  # fmt: skip
    first = accounts[0]["id"]
    contact = ok(crm.api("POST", "/api/contacts/", {"first_name": "Ann", "last_name": "Lee",
                                                    "account": first}))  # fmt: skip
    deal = ok(crm.api("POST", "/api/opportunities/", {
        "name": "Pro", "account": first, "amount": "49.00", "currency": "EUR",
        "stage": "PROPOSAL", "custom_fields": {"plan": "pro"}}))  # fmt: skip
    ok(crm.api("POST", "/api/invoices/", {
        "invoice_title": "Setup", "account_id": first, "contact_id": contact["id"],
        "currency": "EUR", "line_items": [{"description": "Setup", "quantity": "1",
                                           "unit_price": "99.00"}]}))  # fmt: skip
    source = BottleCrmSource("crm", crm_api(crm))  # pages of 2: every wrapper pages
    read = list(source.read(None))
    kinds = [r.object for r in read]
    assert kinds == ["customer"] * 5 + ["contact", "deal", "invoice"]
    assert len({r.id for r in read}) == 8
    norm = model().normalize
    held = {(x.object, x.id): x.data for x in read}
    values = {
        r.id: norm(r.data, record=f"crm:{r.object}:{r.id}", resolve=lambda o, i: held.get((o, i)))
        .value for r in read
    }  # fmt: skip
    assert isinstance(values[deal["id"]], Deal) and values[deal["id"]].plan == "pro"
    assert not values[deal["id"]].won

    ok(crm.api("PATCH", f"/api/opportunities/{deal['id']}/",
               {"stage": "CLOSED_WON", "closed_on": "2026-01-06"}))  # fmt: skip
    again = {r.id: r.raw for r in source.read(None)}
    before = {r.id: r.raw for r in read}
    changed = sorted(k for k in before if before[k] != again[k])
    assert changed == [deal["id"]]  # the account's roll-ups moved; its record did not

    resumed = list(source.read(read[3].position))  # a cursor inside the accounts' pages
    assert [r.id for r in resumed] == [r.id for r in read[4:]]


def test_a_webhook_copy_completed_is_the_record_the_list_gives(crm: CrmServer) -> None:
    account = ok(crm.api("POST", "/api/accounts/", {"name": "Hooli", "email": "ap@hooli.example"}))
    contact = ok(crm.api("POST", "/api/contacts/", {"first_name": "Gavin", "last_name": "Belson",
                                                    "account": account["id"]}))  # fmt: skip
    ok(crm.api("PUT", f"/api/accounts/{account['id']}/", {"name": "Hooli Inc"}))
    ok(crm.api("DELETE", f"/api/contacts/{contact['id']}/"))
    source = BottleCrmSource("crm", crm_api(crm))
    listed = {(r.object, r.id): r.raw for r in source.read(None)}
    events = [model().parse_event(body) for _, body in crm.hooks]  # type: ignore[misc]
    completed = [source.complete(e)[0] for e in events]
    assert [(r.object, r.data.get("deleted", False)) for r in completed] == [
        ("customer", False),
        ("contact", True),
        ("customer", False),
        ("contact", True),
    ]
    assert completed[2].raw == listed["customer", account["id"]]
    assert ("contact", contact["id"]) not in listed


class TestCrmCustomersConformance(RecordTargetConformance):
    base = ""
    token = ""

    @pytest.fixture(autouse=True)
    def _crm(self, shared_crm: CrmServer) -> None:
        self.base, self.token = shared_crm.base_url, shared_crm.token

    def open_records(self) -> RecordTarget:
        return BottleCrmRecordTarget("crm", CrmApi(base_url=self.base, token=self.token))

    def sample(self, n: int) -> Canonical:
        return Customer(id=f"C{n}", name=f"Client {n} {self.base[-5:]} {id(self)}",
                        email=f"ap{n}@client.example",
                        address=Address(country="DE", city="Berlin", postal_code="10115",
                                        line1="Allee 1"))  # fmt: skip

    def changed(self, value: Canonical) -> Canonical:
        assert isinstance(value, Customer)
        return replace(value, email="finance@client.example")


def test_an_invoice_is_written_back_with_its_status_and_payments_once(crm: CrmServer) -> None:
    account = ok(crm.api("POST", "/api/accounts/", {"name": "Hooli"}))
    ok(crm.api("POST", "/api/contacts/", {"first_name": "Ap", "last_name": "Hooli",
                                          "account": account["id"]}))  # fmt: skip
    target = BottleCrmRecordTarget("crm", crm_api(crm))
    key = "stripe:invoice:in_1"

    def xref(obj: str, ident: str) -> str | None:
        return account["id"] if (obj, ident) == ("customer", "cus_1") else None

    opened = target.fields_linked(invoice(), record_key=key, xref=xref)
    assert opened is not None
    assert target.find("invoice", key, opened) is None
    made = target.create("invoice", key, opened, idempotency_key="i|1")
    assert target.differences(opened, made.fields) == ()
    assert (made.fields["status"], made.fields["amount_due"]) == ("draft", "47.60")

    paid_at = datetime(2026, 1, 7, 9, tzinfo=UTC)
    paid = target.fields_linked(
        invoice(status=InvoiceStatus.PAID, amount_paid=Money(Decimal("47.60"), "EUR"),
                paid_at=paid_at), record_key=key, xref=xref)  # fmt: skip
    assert paid is not None
    again = BottleCrmRecordTarget("crm", crm_api(crm))  # a later run: found by our key
    found = again.find("invoice", key, paid)
    assert found is not None and found.id == made.id
    for attempt in (2, 3):  # the second update (a lost commit, a replay) pays nothing more
        held = again.update("invoice", made.id, key, paid, idempotency_key=f"i|{attempt}")
        assert again.differences(paid, held.fields) == ()
    assert (held.fields["status"], held.fields["amount_due"], held.fields["last_payment_date"]) == (
        "paid",
        "0.00",
        "2026-01-07",
    )
    assert len(ok(crm.api("GET", f"/api/invoices/{made.id}/payments/"))) == 1
    assert ok(crm.api("GET", f"/api/invoices/?account={account['id']}"))["count"] == 1

    bare = ok(crm.api("POST", "/api/accounts/", {"name": "Bare"}))
    with pytest.raises(RecordError, match="no contact"):
        target.create("invoice", "stripe:invoice:in_2",
                      {**opened, "account": bare["id"]}, idempotency_key="b|1")  # fmt: skip
