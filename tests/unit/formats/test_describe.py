"""Stripe records in a person's words, read leniently from their snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from billbridge.domain import Money
from billbridge.formats.stripe import words as describe

INVOICE = {
    "id": "in_1", "object": "invoice", "number": "HB-0042", "customer": "cus_1",
    "customer_name": "Globex Corp", "currency": "eur", "total": 119000, "created": 1767600000,
    "status_transitions": {"finalized_at": 1767610000},
}  # fmt: skip
STORE: dict[tuple[str, str], Mapping[str, Any]] = {
    ("invoice", "in_1"): INVOICE,
    ("customer", "cus_2"): {"id": "cus_2", "object": "customer", "name": "Initech"},
    ("invoice_payment_by_payment", "pi_1"): {"object": "invoice_payment", "invoice": "in_1"},
    ("charge", "ch_1"): {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"},
}


def resolve(object: str, id: str) -> Mapping[str, Any] | None:
    return STORE.get((object, id))


def test_an_invoice_reads_number_customer_amount_and_date() -> None:
    words = describe("invoice", "in_1", INVOICE, resolve)
    assert words.text() == "Invoice HB-0042 · Globex Corp · 1,190.00 EUR · 2026-01-05"
    assert words.amount == Money(Decimal("1190.00"), "EUR")
    assert words.day == date(2026, 1, 5)


def test_a_payment_names_the_invoice_it_pays_and_the_customer() -> None:
    charge = {
        "id": "ch_1", "object": "charge", "amount": 119000, "currency": "eur",
        "customer": "cus_2", "payment_intent": "pi_1", "created": 1767700000,
    }  # fmt: skip
    assert describe("charge", "ch_1", charge, resolve).text() == (
        "Payment for HB-0042 · Initech · 1,190.00 EUR · 2026-01-06"
    )
    refund = {"id": "re_1", "object": "refund", "amount": 500, "currency": "eur",
              "charge": "ch_1", "created": 1767700000}  # fmt: skip
    assert describe("refund", "re_1", refund, resolve).text() == (
        "Refund for HB-0042 · Globex Corp · 5.00 EUR · 2026-01-06"  # the invoice's customer
    )


def test_a_record_the_normalizer_refuses_still_has_words() -> None:
    bad = {**INVOICE, "currency": "xyz"}
    words = describe("invoice", "in_1", bad, resolve)
    assert words.amount is None
    assert words.text() == "Invoice HB-0042 · Globex Corp · 119000 in 'xyz' · 2026-01-05"
    assert describe("invoice", "in_9", {"object": "invoice"}, resolve).text() == "Invoice in_9"


def test_an_unreadable_line_is_named_by_its_line() -> None:
    assert describe("unknown", "line-300", None, resolve).text() == "Unreadable export line 300"
    assert describe("unknown", "2026-01.jsonl-line-7", None, resolve).text() == (
        "Unreadable export line 7 of 2026-01.jsonl"
    )
