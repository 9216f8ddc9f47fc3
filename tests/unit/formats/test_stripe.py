"""Stripe JSON → domain: both API shapes, every Problem, and never a crash."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billbridge.domain import (
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    Money,
    Payment,
    Payout,
    Refund,
)
from billbridge.formats.stripe import (
    POSTABLE_OBJECTS,
    REFERENCE_OBJECTS,
    Normalized,
    normalize,
)

FIXTURES = Path("/work/shared/data/stripe-api-fixtures.json")


@pytest.fixture(scope="module")
def fx() -> dict[str, Any]:
    return json.loads(FIXTURES.read_text())["resources"]


def held(*objects: Mapping[str, Any], aliases: Mapping[str, Mapping[str, Any]] | None = None):
    store = {(o["object"], o["id"]): o for o in objects}
    for key, value in (aliases or {}).items():
        store[("invoice_payment_by_payment", key)] = value

    def resolve(obj: str, ident: str) -> Mapping[str, Any] | None:
        return store.get((obj, ident))

    return resolve


def nothing(obj: str, ident: str) -> None:
    return None


def run(data: Mapping[str, Any], resolve: Any = nothing) -> Normalized:
    return normalize(data, record=f"stripe:{data.get('object')}:{data.get('id')}", resolve=resolve)


def only_problem(n: Normalized, field: str) -> str:
    assert n.value is None
    assert len(n.problems) == 1, n.problems
    p = n.problems[0]
    assert p.field == field
    assert p.record.startswith("stripe:")
    assert p.message
    return p.message


# ------------------------------------------------------------------ localstripe (2017-08-15)
# Built from localstripe 1.15.10 resources.py: Invoice._export with a List of lines,
# `tax_percent`, `tax`, `total_tax_amounts`, lines with `plan` and `tax_amounts`,
# charges with `payment_intent` (and `invoice` None), BalanceTransaction with fee 0.


def ls_invoice(**over: Any) -> dict[str, Any]:
    inv: dict[str, Any] = {
        "id": "in_ls0001",
        "object": "invoice",
        "created": 1_700_000_000,
        "date": 1_700_000_000,
        "livemode": False,
        "customer": "cus_ls1",
        "customer_email": "jane@example.com",
        "subscription": "sub_ls1",
        "tax_percent": 19.0,
        "default_tax_rates": None,
        "metadata": {},
        "payment_intent": "pi_ls1",
        "application_fee": None,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": None,
        "collection_method": "charge_automatically",
        "description": None,
        "discount": None,
        "receipt_number": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "webhooks_delivered_at": 1_700_000_000,
        "status_transitions": {
            "finalized_at": 1_700_000_001,
            "paid_at": 1_700_000_002,
            "voided_at": None,
        },
        "period_start": 1_700_000_000,
        "period_end": 1_702_592_000,
        "lines": {
            "object": "list",
            "url": "/v1/invoices/in_ls0001/lines",
            "has_more": False,
            "total_count": 2,
            "data": [
                {
                    "id": "il_a",
                    "object": "line_item",
                    "type": "subscription",
                    "subscription_item": "si_1",
                    "subscription": "sub_ls1",
                    "plan": {
                        "id": "basic",
                        "object": "plan",
                        "product": "prod_basic",
                        "amount": 1000,
                        "currency": "eur",
                    },
                    "proration": False,
                    "currency": "eur",
                    "description": "Basic",
                    "amount": 1000,
                    "period": {"start": 1_700_000_000, "end": 1_702_592_000},
                    "invoice": "in_ls0001",
                    "tax_rates": [],
                    "tax_amounts": [],
                    "metadata": {},
                    "quantity": 1,
                },
                {
                    "id": "il_b",
                    "object": "line_item",
                    "type": "invoiceitem",
                    "invoice_item": "ii_1",
                    "subscription": None,
                    "plan": None,
                    "proration": False,
                    "currency": "eur",
                    "description": "Setup",
                    "amount": 501,
                    "period": {"start": 1_700_000_000, "end": 1_700_000_000},
                    "invoice": "in_ls0001",
                    "tax_rates": [],
                    "tax_amounts": [],
                    "metadata": {},
                    "quantity": 1,
                },
            ],
        },
        "currency": "eur",
        "ending_balance": 0,
        "subtotal": 1501,
        "tax": 285,
        "total_tax_amounts": [],
        "total": 1786,
        "amount_due": 1786,
        "amount_paid": 1786,
        "next_payment_attempt": None,
        "status": "paid",
        "charge": None,
    }
    inv.update(over)
    return inv


def test_localstripe_tax_percent_spreads_over_lines() -> None:
    n = run(ls_invoice())
    assert n.problems == ()
    inv = n.value
    assert isinstance(inv, Invoice)
    assert inv.currency == "EUR"
    assert inv.total == Money.from_minor(1786, "EUR")
    assert inv.tax == Money.from_minor(285, "EUR")
    assert inv.number == ""
    assert inv.customer_name == "jane@example.com"
    assert inv.status is InvoiceStatus.PAID
    assert inv.paid_at == datetime.fromtimestamp(1_700_000_002, tz=UTC)
    assert [line.product for line in inv.lines] == ["prod_basic", ""]
    rates = [t.rate for line in inv.lines for t in line.taxes]
    assert rates == ["tax_percent:19.0", "tax_percent:19.0"]
    assert sum(t.amount.minor for line in inv.lines for t in line.taxes) == 285
    assert inv.lines[0].taxes[0].percentage == Decimal("19.0")
    assert inv.lines[0].unit_amount == Decimal("10.00")


def test_localstripe_default_tax_rates_live_only_on_the_invoice() -> None:
    n = run(
        ls_invoice(
            tax_percent=None,
            tax=190 + 95,
            total_tax_amounts=[
                {"amount": 190, "inclusive": False, "tax_rate": "txr_de"},
                {"amount": 95, "inclusive": False, "tax_rate": "txr_de"},
            ],
        )
    )
    assert n.problems == ()
    assert isinstance(n.value, Invoice)
    taxes = [t for line in n.value.lines for t in line.taxes]
    assert {t.rate for t in taxes} == {"txr_de"}
    assert sum(t.amount.minor for t in taxes) == 285


def test_localstripe_line_tax_amounts_with_expanded_rate() -> None:
    inv = ls_invoice(tax_percent=None, tax=190)
    line = inv["lines"]["data"][0]
    line["tax_amounts"] = [
        {
            "amount": 190,
            "inclusive": False,
            "tax_rate": {
                "id": "txr_de",
                "object": "tax_rate",
                "percentage": 19.0,
                "inclusive": False,
                "jurisdiction": "DE",
                "display_name": "VAT",
            },
        }
    ]
    inv["lines"]["data"][1]["amount"] = 0
    inv.update(subtotal=1000, total=1190, amount_paid=1190, amount_due=1190)
    n = run(inv)
    assert n.problems == ()
    assert isinstance(n.value, Invoice)
    tax = n.value.lines[0].taxes[0]
    assert (tax.rate, tax.percentage, tax.jurisdiction) == ("txr_de", Decimal("19.0"), "DE")


def test_localstripe_charge_links_through_its_payment_intent() -> None:
    charge = {
        "id": "ch_ls1",
        "object": "charge",
        "amount": 1786,
        "currency": "eur",
        "customer": "cus_ls1",
        "invoice": None,
        "status": "succeeded",
        "paid": True,
        "captured": True,
        "payment_intent": "pi_ls1",
        "payment_method": "pm_ls1",
        "balance_transaction": "txn_ls1",
        "created": 1_700_000_002,
        "refunds": {"object": "list", "data": [], "has_more": False},
    }
    txn = {
        "id": "txn_ls1",
        "object": "balance_transaction",
        "amount": 1786,
        "currency": "eur",
        "fee": 0,
        "fee_details": [],
        "net": 1786,
        "source": "ch_ls1",
        "type": "charge",
        "created": 1_700_000_002,
        "exchange_rate": 1.0,
    }
    pi = {
        "id": "pi_ls1",
        "object": "payment_intent",
        "invoice": "in_ls0001",
        "amount": 1786,
        "currency": "eur",
    }
    n = run(charge, held(txn, pi))
    assert isinstance(n.value, Payment)
    assert n.value.invoice == "in_ls0001"
    assert n.value.fee == Money.zero("EUR")
    assert n.value.method == ""
    refund = {
        "id": "re_ls1",
        "object": "refund",
        "charge": "ch_ls1",
        "payment_intent": None,
        "amount": 500,
        "currency": "eur",
        "status": "succeeded",
        "created": 1_700_000_100,
        "date": 1_700_000_100,
        "balance_transaction": "txn_ls2",
        "metadata": {},
    }
    r = run(refund, held(txn, pi, charge))
    assert isinstance(r.value, Refund)
    assert (r.value.invoice, r.value.payment) == ("in_ls0001", "ch_ls1")
    assert r.value.amount == Money.from_minor(500, "EUR")


def test_localstripe_customer_with_business_vat_id() -> None:
    cus = {
        "id": "cus_ls1",
        "object": "customer",
        "name": None,
        "email": "jane@example.com",
        "address": None,
        "business_vat_id": "DE123456789",
        "tax_ids": {"object": "list", "data": [], "has_more": False},
    }
    n = run(cus)
    assert isinstance(n.value, Customer)
    assert (n.value.name, n.value.tax_id, n.value.currency) == (
        "jane@example.com",
        "DE123456789",
        "",
    )


# ------------------------------------------------------------------ the current API fixtures


def test_fixture_invoice(fx: dict[str, Any]) -> None:
    n = run(fx["invoice"])
    assert n.problems == ()
    inv = n.value
    assert isinstance(inv, Invoice)
    assert (inv.status, inv.number, inv.currency) == (InvoiceStatus.DRAFT, "", "USD")
    assert inv.total == Money.from_minor(1000, "USD")
    assert inv.tax.is_zero()
    assert inv.created.tzinfo is UTC
    assert inv.due_date == date(2009, 2, 13)


def test_fixture_charge_waits_then_pays(fx: dict[str, Any]) -> None:
    charge = fx["charge"]
    n = run(charge)
    assert n.value is None
    assert n.problems == ()
    assert n.waiting_on == ("balance_transaction", "txn_1PgaxNB7WZ01zgkWEV3TLf40")
    assert n.reason == "waiting for balance transaction txn_1PgaxNB7WZ01zgkWEV3TLf40"
    n = run(charge, held(fx["balance_transaction"]))
    pay = n.value
    assert isinstance(pay, Payment)
    assert pay.gross == pay.fee + pay.net == Money.from_minor(100, "USD")
    assert pay.invoice == ""
    assert pay.method == "card visa"
    assert "4242" not in repr(pay)
    assert "AOB934RVNwzk6xtn" not in repr(pay)


def test_fixture_charge_invoice_from_invoice_payment(fx: dict[str, Any]) -> None:
    charge = dict(fx["charge"], payment_intent="pi_1")
    payment = dict(fx["invoice_payment"], invoice="in_paid")
    n = run(charge, held(fx["balance_transaction"], aliases={"pi_1": payment}))
    assert isinstance(n.value, Payment)
    assert n.value.invoice == "in_paid"


def test_fixture_charge_with_payment_intent_but_no_link_does_not_wait(fx: dict[str, Any]) -> None:
    charge = dict(fx["charge"], payment_intent="pi_unknown")
    n = run(charge, held(fx["balance_transaction"]))
    assert isinstance(n.value, Payment)
    assert n.value.invoice == ""
    assert n.waiting_on is None


def test_fixture_refund_waits_for_its_charge(fx: dict[str, Any]) -> None:
    n = run(fx["refund"])
    assert n.waiting_on == ("charge", "ch_1PgafuB7WZ01zgkWXYmPNZs8")
    n = run(fx["refund"], held(fx["charge"]))
    assert isinstance(n.value, Refund)
    assert n.value.payment == "ch_1PgafuB7WZ01zgkWXYmPNZs8"


def test_fixture_payout_and_customer(fx: dict[str, Any]) -> None:
    p = run(fx["payout"]).value
    assert isinstance(p, Payout)
    assert (p.amount, p.arrival_date, p.status) == (
        Money.from_minor(1100, "USD"),
        date(2009, 2, 13),
        "in_transit",
    )
    c = run(fx["customer"]).value
    assert isinstance(c, Customer)
    assert (c.name, c.currency) == ("cus_QXg1o8vcGmoR32", "USD")


def test_fixture_credit_note_placeholder_refund_is_a_problem(fx: dict[str, Any]) -> None:
    msg = only_problem(run(fx["credit_note"]), "refund_amount")
    assert "exceed" in msg


def test_fixture_credit_note_products_from_its_invoice(fx: dict[str, Any]) -> None:
    cn = copy.deepcopy(fx["credit_note"])
    cn["refunds"] = [{"amount_refunded": 1000, "refund": "re_1", "type": "refund"}]
    n = run(cn)
    assert n.waiting_on == ("invoice", "in_1Pgc75B7WZ01zgkWYv4iMwt7")
    assert n.reason == "waiting for invoice in_1Pgc75B7WZ01zgkWYv4iMwt7"
    invoice = {
        "id": "in_1Pgc75B7WZ01zgkWYv4iMwt7",
        "object": "invoice",
        "lines": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": "il_1Pgc74B7WZ01zgkWWh45tUBA",
                    "pricing": {
                        "type": "price_details",
                        "price_details": {"price": "price_1", "product": "prod_widget"},
                    },
                }
            ],
        },
    }
    n = run(cn, held(invoice))
    note = n.value
    assert isinstance(note, CreditNote)
    assert [line.product for line in note.lines] == ["prod_widget", ""]
    assert note.total == Money.from_minor(1690, "USD")
    assert note.refund_amount == Money.from_minor(1000, "USD")


def test_fixture_reference_objects(fx: dict[str, Any]) -> None:
    for name in (
        "balance_transaction",
        "payment_intent",
        "tax_rate",
        "product",
        "price",
        "event",
        "subscription",
        "tax_id",
        "line_item",
    ):
        n = run(fx[name])
        assert n == Normalized(value=None), name
    msg = only_problem(run(fx["invoice_payment"]), "currency")
    assert "'currency'" in msg


def test_object_sets() -> None:
    assert {"customer", "invoice", "credit_note", "charge", "refund", "payout"} == POSTABLE_OBJECTS
    assert not POSTABLE_OBJECTS & REFERENCE_OBJECTS


# ------------------------------------------------------------------ both tax shapes


def current_invoice(**over: Any) -> dict[str, Any]:
    inv: dict[str, Any] = {
        "id": "in_cur",
        "object": "invoice",
        "currency": "eur",
        "created": 1_700_000_000,
        "customer": "cus_1",
        "customer_name": None,
        "customer_email": "a@b.example",
        "customer_address": {"country": "DE"},
        "customer_tax_ids": [{"type": "eu_vat", "value": "DE999"}],
        "status": "open",
        "number": "INV-1",
        "status_transitions": {"finalized_at": 1_700_000_000},
        "lines": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": "il_1",
                    "amount": 10000,
                    "currency": "eur",
                    "quantity": 2,
                    "discount_amounts": [{"amount": 1000, "discount": "di_1"}],
                    "taxes": [
                        {
                            "amount": 1710,
                            "tax_behavior": "exclusive",
                            "tax_rate_details": {"tax_rate": "txr_de"},
                            "taxable_amount": 9000,
                            "type": "tax_rate_details",
                        }
                    ],
                    "pricing": {
                        "type": "price_details",
                        "unit_amount_decimal": "5000",
                        "price_details": {"price": "price_1", "product": "prod_pro"},
                    },
                },
                {
                    "id": "il_2",
                    "amount": 1190,
                    "currency": "eur",
                    "quantity": 1,
                    "discount_amounts": [],
                    "taxes": [
                        {
                            "amount": 190,
                            "tax_behavior": "inclusive",
                            "tax_rate_details": {"tax_rate": "txr_de_incl"},
                            "taxable_amount": 1000,
                            "type": "tax_rate_details",
                        }
                    ],
                },
            ],
        },
        "subtotal": 11190,
        "total_taxes": [{"amount": 1710}, {"amount": 190}],
        "total": 9000 + 1710 + 1190,
        "amount_paid": 0,
    }
    # total_taxes entries carry a rate id in the real API
    for t, rate in zip(inv["total_taxes"], ("txr_de", "txr_de_incl"), strict=True):
        t["tax_rate_details"] = {"tax_rate": rate}
    inv.update(over)
    return inv


def test_current_taxes_inclusive_and_exclusive_with_discount() -> None:
    n = run(current_invoice())
    assert n.problems == ()
    inv = n.value
    assert isinstance(inv, Invoice)
    assert inv.customer_name == "a@b.example"
    assert (inv.customer_country, inv.customer_tax_id) == ("DE", "DE999")
    first, second = inv.lines
    assert first.discount == Money.from_minor(1000, "EUR")
    assert first.unit_amount == Decimal("50.00")
    assert first.product == "prod_pro"
    assert first.taxes[0].inclusive is False
    assert second.taxes[0].inclusive is True
    assert inv.tax == Money.from_minor(1900, "EUR")


def test_older_tax_amounts_shape() -> None:
    inv = current_invoice(tax=1900)
    del inv["total_taxes"]
    for line in inv["lines"]["data"]:
        taxes = line.pop("taxes")
        line["tax_amounts"] = [
            {
                "amount": t["amount"],
                "inclusive": t["tax_behavior"] == "inclusive",
                "tax_rate": t["tax_rate_details"]["tax_rate"],
            }
            for t in taxes
        ]
    line = inv["lines"]["data"][0]
    del line["pricing"]
    line["price"] = {
        "id": "price_1",
        "product": {"id": "prod_pro", "object": "product"},
        "unit_amount": 5000,
    }
    n = run(inv)
    assert n.problems == ()
    assert isinstance(n.value, Invoice)
    assert n.value.lines[0].product == "prod_pro"
    assert [t.rate for line in n.value.lines for t in line.taxes] == ["txr_de", "txr_de_incl"]


# ------------------------------------------------------------------ every Problem


@pytest.mark.parametrize("bad", ["eurx", "xyz", "EURO", 978, ""])
def test_unknown_currency(bad: Any) -> None:
    msg = only_problem(run(current_invoice(currency=bad)), "currency")
    assert repr(bad) in msg


@pytest.mark.parametrize("field", ["total", "subtotal", "amount_paid", "created", "currency"])
def test_missing_invoice_field(field: str) -> None:
    inv = current_invoice()
    del inv[field]
    assert "missing" in only_problem(run(inv), field)


@pytest.mark.parametrize("value", [1900.0, "1900", True, [1]])
def test_non_int_amount(value: Any) -> None:
    msg = only_problem(run(current_invoice(total=value)), "total")
    assert "integer" in msg


def test_missing_line_amount_names_the_line() -> None:
    inv = current_invoice()
    del inv["lines"]["data"][1]["amount"]
    only_problem(run(inv), "lines[il_2].amount")


def test_lines_not_summing_to_total() -> None:
    msg = only_problem(run(current_invoice(total=1)), "total")
    assert "lines sum to" in msg


def test_partial_line_list() -> None:
    inv = current_invoice()
    inv["lines"]["has_more"] = True
    n = run(inv)
    only_problem(n, "lines.has_more")
    assert "pagination" in n.problems[0].hint


def test_no_tax_fields_at_all() -> None:
    inv = current_invoice()
    del inv["total_taxes"]
    only_problem(run(inv), "tax")


def test_unknown_status() -> None:
    assert "weird" in only_problem(run(current_invoice(status="weird")), "status")


def test_unknown_object_and_missing_object_or_id() -> None:
    msg = only_problem(run({"object": "x", "id": "x_1"}), "object")
    assert msg == "unsupported Stripe object 'x'"
    only_problem(run({"id": "x_1"}), "object")
    only_problem(run({"object": "invoice"}), "id")


def charge(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "id": "ch_1",
        "object": "charge",
        "amount": 1000,
        "currency": "eur",
        "status": "succeeded",
        "paid": True,
        "captured": True,
        "balance_transaction": {
            "id": "txn_1",
            "object": "balance_transaction",
            "amount": 1000,
            "currency": "eur",
            "fee": 59,
            "net": 941,
        },
        "created": 1_700_000_000,
        "invoice": "in_1",
    }
    c.update(over)
    return c


def test_charge_with_expanded_balance_transaction() -> None:
    pay = run(charge()).value
    assert isinstance(pay, Payment)
    assert (pay.invoice, pay.fee, pay.net, pay.balance_transaction) == (
        "in_1",
        Money.from_minor(59, "EUR"),
        Money.from_minor(941, "EUR"),
        "txn_1",
    )


@pytest.mark.parametrize("status", ["failed", "pending"])
def test_unsuccessful_charge_is_nothing_to_post(status: str) -> None:
    assert run(charge(status=status)) == Normalized(value=None)


def test_charge_settled_in_another_currency() -> None:
    """10.00 EUR paid, settled as 10.80 USD at 1.08: fee and net in the settlement currency."""
    c = charge()
    c["balance_transaction"] = dict(
        c["balance_transaction"], currency="usd", amount=1080, fee=61, net=1019,
        exchange_rate=1.08,
    )  # fmt: skip
    pay = run(c).value
    assert isinstance(pay, Payment)
    assert pay.gross == Money.from_minor(1000, "EUR")
    assert pay.settled == Money.from_minor(1080, "USD")
    assert (pay.fee, pay.net) == (Money.from_minor(61, "USD"), Money.from_minor(1019, "USD"))
    assert pay.exchange_rate == Decimal("1.08")


def test_charge_settled_in_another_currency_must_add_up() -> None:
    c = charge()
    c["balance_transaction"] = dict(c["balance_transaction"], currency="usd", amount=1080)
    only_problem(run(c), "balance_transaction")  # 59 + 941 is not 1080


def test_charge_whose_fee_and_net_do_not_add_up() -> None:
    c = charge()
    c["balance_transaction"] = dict(c["balance_transaction"], net=940)
    only_problem(run(c), "balance_transaction")


def test_charge_missing_amount() -> None:
    c = charge()
    del c["amount"]
    only_problem(run(c), "amount")


def test_refund_statuses_and_missing_charge() -> None:
    refund = {
        "id": "re_1",
        "object": "refund",
        "amount": 100,
        "currency": "eur",
        "status": "pending",
        "created": 1_700_000_000,
        "charge": "ch_1",
    }
    assert run(refund) == Normalized(value=None)
    only_problem(run(dict(refund, status="succeeded", charge=None)), "charge")


def test_credit_note_older_refund_waits_or_reads_amount() -> None:
    cn = {
        "id": "cn_1",
        "object": "credit_note",
        "currency": "eur",
        "invoice": "in_1",
        "customer": "cus_1",
        "status": "issued",
        "created": 1_700_000_000,
        "total": 1190,
        "refund": "re_1",
        "lines": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": "cnli_1",
                    "amount": 1000,
                    "invoice_line_item": "il_1",
                    "tax_amounts": [{"amount": 190, "inclusive": False, "tax_rate": "txr_de"}],
                }
            ],
        },
    }
    assert run(cn).waiting_on == ("refund", "re_1")
    refund = {"id": "re_1", "object": "refund", "amount": 1190}
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "lines": {"data": [{"id": "il_1", "plan": {"product": "prod_x"}}]},
    }
    note = run(cn, held(refund, invoice)).value
    assert isinstance(note, CreditNote)
    assert note.refund_amount == Money.from_minor(1190, "EUR")
    assert note.lines[0].taxes[0].rate == "txr_de"
    assert note.lines[0].product == "prod_x"
    only_problem(run(dict(cn, total=1, refund=None), held(invoice)), "total")


def test_jpy_and_kwd_minor_units() -> None:
    p = {
        "id": "po_1",
        "object": "payout",
        "amount": 1234,
        "currency": "kwd",
        "created": 1_700_000_000,
        "arrival_date": 1_700_100_000,
        "status": "paid",
    }
    assert run(p).value.amount == Money(amount=Decimal("1.234"), currency="KWD")  # type: ignore[union-attr]
    p["currency"] = "jpy"
    assert run(p).value.amount == Money(amount=Decimal(1234), currency="JPY")  # type: ignore[union-attr]


# ------------------------------------------------------------------ never raises

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
keys = st.sampled_from(
    [
        "object",
        "id",
        "currency",
        "amount",
        "total",
        "subtotal",
        "tax",
        "total_taxes",
        "lines",
        "status",
        "created",
        "customer",
        "balance_transaction",
        "charge",
        "invoice",
        "refunds",
        "refund",
        "taxes",
        "tax_amounts",
        "data",
        "has_more",
        "paid",
        "arrival_date",
        "tax_percent",
        "total_tax_amounts",
        "amount_paid",
        "payment_intent",
    ]
)
objects = st.sampled_from(sorted(POSTABLE_OBJECTS | REFERENCE_OBJECTS | {"dispute"}))


@st.composite
def stripe_like(draw: st.DrawFn) -> dict[str, Any]:
    data = draw(st.dictionaries(keys | st.text(max_size=6), json_like, max_size=10))
    if draw(st.booleans()):
        data["object"] = draw(objects)
    if draw(st.booleans()):
        data["id"] = draw(st.text(min_size=1, max_size=6))
    return data


def anything(obj: str, ident: str) -> Any:
    return {
        "id": ident,
        "object": obj,
        "amount": 5,
        "currency": "eur",
        "fee": 1,
        "net": 4,
        "invoice": ident,
    }


@settings(max_examples=400, deadline=None)
@given(data=stripe_like(), look_up=st.booleans())
def test_normalize_never_raises(data: dict[str, Any], look_up: bool) -> None:
    n = normalize(data, record="stripe:x:y", resolve=anything if look_up else nothing)
    assert isinstance(n, Normalized)
    if n.problems:
        assert n.value is None


@settings(max_examples=200, deadline=None)
@given(field=keys, value=json_like, which=st.sampled_from(["ls", "cur"]))
def test_normalize_never_raises_on_a_broken_real_invoice(
    field: str, value: Any, which: str
) -> None:
    data = ls_invoice() if which == "ls" else current_invoice()
    data[field] = value
    assert isinstance(run(data), Normalized)
