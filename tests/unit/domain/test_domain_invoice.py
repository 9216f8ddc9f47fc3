"""validate_invoice: lines, discounts, taxes and total agree to the minor unit."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billbridge.domain import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Money,
    MoneyError,
    Severity,
    TaxAmount,
    validate_invoice,
)

RECORD = "stripe:invoice:in_1"


def m(text: str, currency: str = "EUR") -> Money:
    return Money(amount=Decimal(text), currency=currency)


def line(
    ident: str,
    amount: str,
    *,
    tax: str | None = None,
    discount: str = "0",
    inclusive: bool = False,
    currency: str = "EUR",
) -> InvoiceLine:
    taxes = (
        ()
        if tax is None
        else (
            TaxAmount(
                rate="txr_vat19",
                amount=m(tax, currency),
                percentage=Decimal(19),
                inclusive=inclusive,
            ),
        )
    )
    return InvoiceLine(
        id=ident,
        description=f"line {ident}",
        quantity=Decimal(1),
        amount=m(amount, currency),
        discount=m(discount, currency),
        taxes=taxes,
    )


def invoice(*lines: InvoiceLine, subtotal: str, tax: str, total: str) -> Invoice:
    return Invoice(
        id="in_1",
        number="HB-0042",
        customer="cus_1",
        customer_name="Globex Corp",
        currency="EUR",
        status=InvoiceStatus.OPEN,
        created=datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
        lines=lines,
        subtotal=m(subtotal),
        tax=m(tax),
        total=m(total),
        amount_paid=m("0"),
    )


def test_a_good_invoice_has_no_problems() -> None:
    inv = invoice(
        line("il_1", "100.00", tax="19.00"),
        line("il_2", "50.00", tax="9.50"),
        subtotal="150.00",
        tax="28.50",
        total="178.50",
    )
    assert validate_invoice(inv, record=RECORD) == ()


def test_an_invoice_without_lines_and_zero_total_is_fine() -> None:
    assert validate_invoice(invoice(subtotal="0", tax="0", total="0"), record=RECORD) == ()


def test_lines_not_summing_to_the_total() -> None:
    inv = invoice(
        line("il_1", "100.00", tax="19.00"), subtotal="100.00", tax="19.00", total="120.00"
    )
    (problem,) = validate_invoice(inv, record=RECORD)
    assert problem.record == RECORD
    assert problem.field == "total"
    assert "119.00 EUR" in problem.message
    assert "120.00 EUR" in problem.message
    assert problem.severity is Severity.ERROR
    assert problem.hint


def test_tax_mismatch() -> None:
    inv = invoice(
        line("il_1", "100.00", tax="19.00"), subtotal="100.00", tax="18.00", total="119.00"
    )
    (problem,) = validate_invoice(inv, record=RECORD)
    assert problem.field == "tax"
    assert "19.00 EUR" in problem.message
    assert "18.00 EUR" in problem.message


def test_a_line_in_another_currency() -> None:
    inv = invoice(
        line("il_1", "100.00"),
        line("il_2", "50.00", currency="USD"),
        subtotal="150.00",
        tax="0",
        total="150.00",
    )
    (problem,) = validate_invoice(inv, record=RECORD)
    assert problem.field == "lines[il_2].currency"
    assert "USD" in problem.message
    assert "EUR" in problem.message


def test_a_tax_or_discount_in_another_currency_is_a_problem_not_a_crash() -> None:
    foreign_tax = dataclasses.replace(
        line("il_1", "100.00"),
        taxes=(TaxAmount(rate="txr_1", amount=m("19.00", "USD")),),
    )
    foreign_discount = dataclasses.replace(line("il_2", "10.00"), discount=m("1", "USD"))
    inv = invoice(foreign_tax, foreign_discount, subtotal="110.00", tax="19.00", total="129.00")
    fields = {p.field for p in validate_invoice(inv, record=RECORD)}
    assert fields == {"lines[il_1].taxes[txr_1]", "lines[il_2].discount"}


def test_a_header_amount_in_another_currency() -> None:
    inv = dataclasses.replace(
        invoice(line("il_1", "100.00"), subtotal="100.00", tax="0", total="100.00"),
        total=m("100.00", "USD"),
    )
    (problem,) = validate_invoice(inv, record=RECORD)
    assert problem.field == "total"
    assert "USD" in problem.message


def test_inclusive_taxes_are_inside_the_line_amount() -> None:
    # 119.00 gross including 19.00 VAT: the total is 119.00, not 138.00.
    inv = invoice(
        line("il_1", "119.00", tax="19.00", inclusive=True),
        subtotal="119.00",
        tax="19.00",
        total="119.00",
    )
    assert validate_invoice(inv, record=RECORD) == ()
    wrong = dataclasses.replace(inv, total=m("138.00"))
    (problem,) = validate_invoice(wrong, record=RECORD)
    assert problem.field == "total"


def test_mixed_inclusive_and_exclusive_taxes() -> None:
    inv = invoice(
        line("il_1", "119.00", tax="19.00", inclusive=True),
        line("il_2", "100.00", tax="19.00"),
        subtotal="219.00",
        tax="38.00",
        total="238.00",
    )
    assert validate_invoice(inv, record=RECORD) == ()


def test_a_discount_line() -> None:
    # 100.00 less a 10.00 discount, 19 % VAT on the discounted 90.00.
    inv = invoice(
        line("il_1", "100.00", tax="17.10", discount="10.00"),
        subtotal="100.00",
        tax="17.10",
        total="107.10",
    )
    assert validate_invoice(inv, record=RECORD) == ()
    ignored_discount = dataclasses.replace(inv, total=m("117.10"))
    (problem,) = validate_invoice(ignored_discount, record=RECORD)
    assert problem.field == "total"
    assert "107.10 EUR" in problem.message


def test_a_discount_as_its_own_negative_line() -> None:
    inv = invoice(
        line("il_1", "100.00", tax="19.00"),
        line("il_discount", "-10.00", tax="-1.90"),
        subtotal="90.00",
        tax="17.10",
        total="107.10",
    )
    assert validate_invoice(inv, record=RECORD) == ()


def test_sums_too_large_for_money_are_refused_as_money_refuses_them() -> None:
    """The quick check must not accept what the full check (Money arithmetic) refuses."""
    big = "9" * 26 + ".00"  # 28 digits: one line fits in Money, two lines' sum does not
    inv = invoice(
        line("il_1", big),
        line("il_2", big),
        line("il_3", "-" + big),
        subtotal=big,
        tax="0",
        total=big,
    )
    with pytest.raises(MoneyError, match="too large"):
        validate_invoice(inv, record=RECORD)


def test_a_consistent_invoice_in_a_currency_without_minor_units() -> None:
    inv = dataclasses.replace(
        invoice(subtotal="0", tax="0", total="0"),
        currency="JPY",
        lines=(line("il_1", "1000", tax="100", currency="JPY"),),
        subtotal=m("1000", "JPY"),
        tax=m("100", "JPY"),
        total=m("1100", "JPY"),
        amount_paid=m("0", "JPY"),
    )
    assert validate_invoice(inv, record=RECORD) == ()
    wrong = dataclasses.replace(inv, total=m("1101", "JPY"))
    (problem,) = validate_invoice(wrong, record=RECORD)
    assert problem.message == "invoice in_1: lines sum to 1100 JPY but total is 1101 JPY"
