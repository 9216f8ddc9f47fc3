"""Rows of an export → canonical objects, or problems naming file, line, column, text, format."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from billbridge.domain import (
    CreditNote,
    Invoice,
    InvoiceStatus,
    Money,
    Payment,
    Refund,
    TaxAmount,
)
from billbridge.formats.files import Settings, files_model

DE = Settings(
    locale="de_DE", date_formats={"generic-invoices": "%d.%m.%Y", "generic-payments": "%d.%m.%Y"}
)
US = Settings(locale="en_US", date_formats={"generic-invoices": "%m/%d/%Y"})


def record(
    kind: str,
    *rows: Mapping[str, Any],
    layout: str = "generic-invoices",
    lines: list[int] | None = None,
) -> dict[str, Any]:
    columns = {name: name for row in rows for name in row}
    return {
        "object": kind,
        "layout": layout,
        "columns": columns,
        "rows": list(rows),
        "file": "march.csv",
        "lines": lines or list(range(2, 2 + len(rows))),
    }


def normalize(settings: Settings, data: Mapping[str, Any]) -> Any:
    return files_model(settings).normalize(
        data, record="inv:invoice:X", resolve=lambda _o, _i, /: None
    )


def row(**cells: Any) -> dict[str, Any]:
    base = {
        "number": "RE-1",
        "date": "04.03.2026",
        "customer_id": "C1",
        "customer_name": "Globex GmbH",
        "customer_country": "DE",
        "currency": "EUR",
        "description": "Beratung",
        "quantity": "2",
        "unit_price": "500,00",
        "amount": "1.000,00",
        "tax_rate": "de19",
        "tax_amount": "190,00",
        "total": "1.428,00",
    }
    return {**base, **cells}


def test_an_invoice_of_two_rows_is_one_canonical_invoice() -> None:
    done = normalize(
        DE,
        record(
            "invoice",
            row(),
            row(
                description="Reise",
                quantity="1",
                unit_price="200,00",
                amount="200,00",
                tax_amount="38,00",
            ),
        ),
    )
    assert not done.problems
    inv = done.value
    assert isinstance(inv, Invoice)
    eur = "EUR"
    assert (inv.id, inv.number, inv.customer, inv.customer_name) == (
        "RE-1",
        "RE-1",
        "C1",
        "Globex GmbH",
    )
    assert inv.status is InvoiceStatus.OPEN and inv.customer_country == "DE"
    assert inv.created == datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert inv.total == Money(Decimal("1428.00"), eur)
    assert inv.tax == Money(Decimal("228.00"), eur)
    assert [line.amount for line in inv.lines] == [
        Money(Decimal("1000.00"), eur),
        Money(Decimal("200.00"), eur),
    ]
    assert inv.lines[0].taxes == (TaxAmount(rate="de19", amount=Money(Decimal("190.00"), eur)),)
    assert inv.lines[0].unit_amount == Decimal("500.00") and inv.lines[0].quantity == 2
    assert inv.amount_paid == Money.zero(eur)


@pytest.mark.parametrize(
    ("cells", "column", "says"),
    [
        (
            {"amount": "1,000.00"},
            "amount",
            (
                "march.csv, line 2, column 'amount': '1,000.00' is not a number as de_DE "
                "writes them (expected e.g. '-1.234,56')"
            ),
        ),
        (
            {"amount": "1.000,0O"},
            "amount",
            "(expected an amount as de_DE writes it, e.g. '1.234,56')",
        ),
        (
            {"date": "03/04/2026"},
            "date",
            (
                "march.csv, line 2, column 'date': '03/04/2026' is not a date in the format "
                "DD.MM.YYYY (%d.%m.%Y)"
            ),
        ),
        ({"currency": "EURO"}, "currency", "'EURO' is not an ISO 4217 currency code"),
        ({"currency": ""}, "currency", "the cell is empty; an ISO 4217 currency code is required"),
        ({"amount": "1.000,005"}, "amount", "more decimals than EUR's 2 minor units"),
        ({"tax_amount": ""}, "tax_amount", "tax rate 'de19' but no tax amount"),
        ({"tax_rate": ""}, "tax_amount", "a tax amount of 190.00 EUR with no tax rate"),
        (
            {"total": "1.190,01"},
            "total",
            ("the lines sum to 1190.00 EUR but the total column says 1190.01 EUR"),
        ),
        ({"customer_country": "Germany"}, "customer_country", "'Germany' is not an ISO 3166"),
        ({"quantity": "zwei"}, "quantity", "'zwei' is not a number as de_DE writes them"),
    ],
)
def test_a_bad_cell_is_a_problem_naming_file_line_column_text_and_format(
    cells: dict[str, str], column: str, says: str
) -> None:
    base = row(total="1.190,00")
    done = normalize(DE, record("invoice", {**base, **cells}))
    assert done.value is None
    (problem,) = done.problems
    assert problem.field == column and problem.record == "inv:invoice:X"
    assert says in problem.message, problem.message
    assert problem.message.startswith("march.csv, line 2"), problem.message
    assert problem.hint


def test_every_bad_cell_of_a_record_is_named_at_once() -> None:
    done = normalize(DE, record("invoice", row(total=""), row(amount="x", tax_amount="y")))
    assert [p.field for p in done.problems] == ["amount", "tax_amount"]
    assert all("line 3" in p.message for p in done.problems)


def test_rows_of_one_invoice_must_agree_on_its_own_fields() -> None:
    done = normalize(DE, record("invoice", row(), row(currency="USD")))
    assert done.value is None
    assert "'USD' differs from 'EUR' on line 2 of the same document" in done.problems[0].message


def test_a_duplicate_number_fails_naming_its_lines() -> None:
    data = {**record("invoice", row(), row(), lines=[4, 9]), "duplicate": [[4], [9]]}
    done = normalize(DE, data)
    (problem,) = done.problems
    assert problem.field == "number"
    assert "the invoice 'RE-1' appears more than once (line 4 and line 9)" in problem.message


def test_typed_xlsx_cells_are_exact_or_refused_never_floats() -> None:
    xlsx = Settings(locale="en_US")
    cells = row(
        date={"d": "2026-03-04"},
        quantity={"n": "2"},
        unit_price={"n": "500"},
        amount={"n": "1000"},
        tax_amount={"n": "190"},
        total={"n": "1190"},
    )
    done = normalize(xlsx, record("invoice", cells))
    assert done.value is not None and done.value.total == Money(Decimal("1190.00"), "EUR")
    noisy = {**cells, "amount": {"n": str(Decimal(str(0.1 + 0.2)))}}  # a formula's binary noise
    done = normalize(xlsx, record("invoice", noisy))
    (problem,) = done.problems
    assert "the number cell holds 0.30000000000000004, which has more decimals than EUR's 2" in (
        problem.message
    )
    number_date = {**cells, "date": {"n": "46085"}}  # an Excel serial number, not a date cell
    assert (
        "holds the number 46085, not a date"
        in normalize(xlsx, record("invoice", number_date)).problems[0].message
    )


def test_a_line_amount_may_be_quantity_times_unit_price_when_exact() -> None:
    cells = row(
        amount="", quantity="3", unit_price="33,33", tax_rate="", tax_amount="", total="99,99"
    )
    done = normalize(DE, record("invoice", cells))
    assert done.value is not None and done.value.total == Money(Decimal("99.99"), "EUR")
    inexact = row(amount="", quantity="3", unit_price="0,125", tax_rate="", tax_amount="", total="")
    assert (
        "has more decimals than EUR allows"
        in normalize(DE, record("invoice", inexact)).problems[0].message
    )


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("Paid", InvoiceStatus.PAID),
        ("Voided", InvoiceStatus.VOID),
        ("draft", InvoiceStatus.DRAFT),
        ("Awaiting Payment", InvoiceStatus.OPEN),
        ("", InvoiceStatus.OPEN),
    ],
)
def test_status_words_of_the_exports(word: str, status: InvoiceStatus) -> None:
    done = normalize(DE, record("invoice", row(total="", status=word)))
    assert done.value is not None and done.value.status is status
    if status is InvoiceStatus.PAID:
        assert done.value.amount_paid == done.value.total
    unknown = normalize(DE, record("invoice", row(total="", status="Archived")))
    assert unknown.problems[0].field == "status"


def test_a_payment_row_is_gross_fee_and_net() -> None:
    data = record(
        "payment",
        {
            "payment_id": "P-1",
            "date": "10.03.2026",
            "invoice_number": "RE-1",
            "currency": "EUR",
            "amount": "1.428,00",
            "fee": "2,50",
        },
        layout="generic-payments",
    )
    done = normalize(DE, data)
    pay = done.value
    assert isinstance(pay, Payment) and not done.problems
    assert (pay.id, pay.invoice) == ("P-1", "RE-1")
    assert (pay.gross, pay.fee, pay.net) == (
        Money(Decimal("1428.00"), "EUR"),
        Money(Decimal("2.50"), "EUR"),
        Money(Decimal("1425.50"), "EUR"),
    )
    data["rows"][0]["amount"] = "-5,00"
    assert normalize(DE, data).problems[0].field == "amount"
    data["rows"][0]["amount"] = "5,00"
    data["rows"][0]["fee"] = "6,00"
    assert "is not between zero and the amount" in normalize(DE, data).problems[0].message


def test_a_refund_finds_its_invoice_through_its_payment() -> None:
    model = files_model(Settings(locale="en_US"))
    paid = record("payment", {"payment_id": "P-1", "invoice_number": "RE-1"})
    data = record(
        "refund",
        {
            "refund_id": "F-1",
            "date": "2026-03-12",
            "payment_id": "P-1",
            "currency": "EUR",
            "amount": "10.00",
            "reason": "duplicate",
        },
        layout="generic-refunds",
    )
    done = model.normalize(
        data,
        record="x:refund:F-1",
        resolve=lambda o, i, /: paid if (o, i) == ("payment", "P-1") else None,
    )
    assert done.value == Refund(
        id="F-1",
        payment="P-1",
        invoice="RE-1",
        created=datetime(2026, 3, 12, 12, tzinfo=UTC),
        amount=Money(Decimal("10.00"), "EUR"),
        reason="duplicate",
    )


def test_a_credit_note_credits_its_invoice_lines_and_refunded_part() -> None:
    model = files_model(Settings(locale="en_US"))
    data = record(
        "credit_note",
        {
            "number": "CN-1",
            "date": "2026-03-20",
            "invoice_number": "RE-1",
            "currency": "EUR",
            "description": "Returned",
            "amount": "100.00",
            "tax_rate": "de19",
            "tax_amount": "19.00",
            "total": "119.00",
            "refunded": "19.00",
        },
        layout="generic-credit-notes",
    )
    done = model.normalize(data, record="x:credit_note:CN-1", resolve=lambda _o, _i, /: None)
    note = done.value
    assert isinstance(note, CreditNote) and not done.problems
    assert (note.id, note.invoice, note.total, note.refund_amount) == (
        "CN-1",
        "RE-1",
        Money(Decimal("119.00"), "EUR"),
        Money(Decimal("19.00"), "EUR"),
    )
    data["rows"][0]["refunded"] = "200.00"
    assert model.normalize(data, record="x", resolve=lambda _o, _i, /: None).problems[0].field == (
        "refunded"
    )


def test_describe_reads_number_date_and_draft_without_normalizing() -> None:
    model = files_model(DE)
    assert model.describe is not None
    described = model.describe(record("invoice", row(status="Draft")))
    assert described.number == "RE-1" and described.status == "draft"
    assert described.created == datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert model.describe({}).created is None
