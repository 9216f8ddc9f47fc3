"""validate_customer, validate_credit_note, validate_payment."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billbridge.domain import (
    Address,
    CreditNote,
    CreditNoteLine,
    Customer,
    Money,
    Payment,
    Severity,
    TaxAmount,
    is_country,
    validate_credit_note,
    validate_customer,
    validate_payment,
    validate_tax_id,
)

WHEN = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def m(text: str, currency: str = "EUR") -> Money:
    return Money(amount=Decimal(text), currency=currency)


# -- customers -----------------------------------------------------------------------


def customer(tax_id: str = "", country: str = "", currency: str = "") -> Customer:
    return Customer(
        id="cus_1",
        name="Globex GmbH",
        tax_id=tax_id,
        address=Address(country=country),
        currency=currency,
    )


@pytest.mark.parametrize(
    ("tax_id", "country"),
    [
        ("DE136695976", "DE"),
        ("DE 136 695 976", "DE"),
        ("DE136695976", ""),
        ("DE136695976", "FR"),  # a German number held by a customer elsewhere
        ("136695976", "DE"),  # no prefix: the country says which format
        ("", "DE"),
        ("12-3456789", "US"),  # no offline check for the country: nothing to say
    ],
)
def test_a_good_customer_has_no_problems(tax_id: str, country: str) -> None:
    assert validate_customer(customer(tax_id, country), record="crm:customer:1") == ()


@pytest.mark.parametrize(
    ("tax_id", "country", "where"),
    [
        ("DE136695977", "DE", "DE"),  # wrong check digit
        ("DE13669597", "DE", "DE"),  # too short
        ("136695977", "DE", "DE"),
        ("FR00000000000", "", "FR"),
        ("CHE-123.456.789", "CH", "CH"),
    ],
)
def test_an_invalid_vat_id_is_a_warning_with_a_hint(tax_id: str, country: str, where: str) -> None:
    (problem,) = validate_customer(customer(tax_id, country), record="crm:customer:1")
    assert problem.severity is Severity.WARNING
    assert problem.field == "tax_id"
    assert problem.record == "crm:customer:1"
    assert tax_id in problem.message
    assert f"{where} VAT" in problem.message
    assert problem.hint


@pytest.mark.parametrize("country", ["Germany", "de", "DEU", "ZZ", "EU", "XK", "1"])
def test_a_country_that_is_not_iso_3166_alpha_2_is_a_warning(country: str) -> None:
    assert not is_country(country)
    (problem,) = validate_customer(customer(country=country), record="crm:customer:1")
    assert problem.severity is Severity.WARNING
    assert problem.field == "address.country"
    assert repr(country) in problem.message
    assert "DE" in problem.hint


@pytest.mark.parametrize("country", ["DE", "FR", "US", "JP", "GR", "GB", "CH"])
def test_iso_countries(country: str) -> None:
    assert is_country(country)


@pytest.mark.parametrize(
    ("tax_id", "country"),
    [
        ("DE136695977", "DE"),
        (" DE136695977 ", "Deutschland"),
        ("136695977", "DE"),
        ("DE136695976", "DE"),
        ("", "DE"),
        ("   ", ""),
        ("CHE-123.456.789", "CH"),
    ],
)
def test_validate_tax_id_is_the_tax_id_part_of_validate_customer(tax_id: str, country: str) -> None:
    expected = tuple(
        p for p in validate_customer(customer(tax_id, country), record="r") if p.field == "tax_id"
    )
    for _ in range(2):  # the second answer comes from the cache: the same
        assert validate_tax_id(tax_id, country=country, customer="cus_1", record="r") == expected


def test_a_bad_country_and_a_bad_vat_id_are_both_reported() -> None:
    problems = validate_customer(customer("DE136695977", "Deutschland"), record="r")
    assert {p.field for p in problems} == {"address.country", "tax_id"}
    assert all(p.severity is Severity.WARNING for p in problems)


def test_an_unknown_customer_currency_is_a_warning() -> None:
    (problem,) = validate_customer(customer(currency="eur"), record="r")
    assert problem.field == "currency"
    assert problem.severity is Severity.WARNING


# -- credit notes --------------------------------------------------------------------


def credit_note(*lines: CreditNoteLine, total: str, refund: str = "0") -> CreditNote:
    return CreditNote(
        id="cn_1",
        number="HB-0042-CN-01",
        invoice="in_1",
        customer="cus_1",
        currency="EUR",
        created=WHEN,
        lines=lines,
        total=m(total),
        refund_amount=m(refund),
    )


def cn_line(
    ident: str, amount: str, tax: str | None = None, *, inclusive: bool = False, cur: str = "EUR"
) -> CreditNoteLine:
    taxes = (
        () if tax is None else (TaxAmount(rate="vat19", amount=m(tax, cur), inclusive=inclusive),)
    )
    return CreditNoteLine(id=ident, description="refund", amount=m(amount, cur), taxes=taxes)


def test_a_good_credit_note_has_no_problems() -> None:
    cn = credit_note(cn_line("cl_1", "10.00", "1.90"), cn_line("cl_2", "5.00"), total="16.90")
    assert validate_credit_note(cn, record="r") == ()
    assert validate_credit_note(dataclasses.replace(cn, refund_amount=m("16.90")), record="r") == ()


def test_credit_note_inclusive_taxes_are_inside_the_line() -> None:
    cn = credit_note(cn_line("cl_1", "11.90", "1.90", inclusive=True), total="11.90")
    assert validate_credit_note(cn, record="r") == ()


def test_credit_note_lines_not_summing_to_the_total() -> None:
    cn = credit_note(cn_line("cl_1", "10.00", "1.90"), total="12.00")
    (problem,) = validate_credit_note(cn, record="r")
    assert problem.field == "total"
    assert "11.90 EUR" in problem.message
    assert "12.00 EUR" in problem.message
    assert problem.severity is Severity.ERROR


def test_refund_more_than_the_total() -> None:
    cn = credit_note(cn_line("cl_1", "10.00"), total="10.00", refund="10.01")
    (problem,) = validate_credit_note(cn, record="r")
    assert problem.field == "refund_amount"
    assert "10.01 EUR" in problem.message
    assert "10.00 EUR" in problem.message


def test_negative_refund() -> None:
    cn = credit_note(cn_line("cl_1", "10.00"), total="10.00", refund="-1.00")
    (problem,) = validate_credit_note(cn, record="r")
    assert problem.field == "refund_amount"
    assert "negative" in problem.message


@pytest.mark.parametrize(
    ("cn", "field"),
    [
        (credit_note(cn_line("cl_1", "10.00", cur="USD"), total="10.00"), "lines[cl_1].amount"),
        (
            credit_note(
                CreditNoteLine(
                    id="cl_1",
                    description="x",
                    amount=m("10.00"),
                    taxes=(TaxAmount(rate="vat", amount=m("1", "USD")),),
                ),
                total="11.00",
            ),
            "lines[cl_1].taxes[vat]",
        ),
        (
            dataclasses.replace(
                credit_note(cn_line("cl_1", "10.00"), total="10.00"), refund_amount=m("1", "USD")
            ),
            "refund_amount",
        ),
    ],
)
def test_credit_note_in_two_currencies(cn: CreditNote, field: str) -> None:
    (problem,) = validate_credit_note(cn, record="r")
    assert problem.field == field
    assert "USD" in problem.message
    assert "EUR" in problem.message


# -- payments ------------------------------------------------------------------------


def payment(gross: str, fee: str, net: str, *, fee_currency: str = "EUR") -> Payment:
    return Payment(
        id="ch_1",
        invoice="in_1",
        customer="cus_1",
        created=WHEN,
        gross=m(gross),
        fee=m(fee, fee_currency),
        net=m(net),
    )


def test_a_good_payment_has_no_problems() -> None:
    assert validate_payment(payment("119.00", "1.98", "117.02"), record="r") == ()
    assert validate_payment(payment("0", "0", "0"), record="r") == ()


def test_gross_not_fee_plus_net() -> None:
    (problem,) = validate_payment(payment("119.00", "1.98", "117.00"), record="r")
    assert problem.field == "net"
    assert "119.00 EUR" in problem.message
    assert "118.98 EUR" in problem.message


def test_payment_in_two_currencies() -> None:
    (problem,) = validate_payment(
        payment("119.00", "1.98", "117.02", fee_currency="USD"), record="r"
    )
    assert problem.field == "fee"
    assert "USD" in problem.message
    assert "EUR" in problem.message


def test_negative_payment_parts() -> None:
    problems = validate_payment(payment("-10.00", "0.30", "-10.30"), record="r")
    assert {p.field for p in problems} == {"gross", "net"}
    assert all("negative" in p.message for p in problems)
