"""Invoice registers as people export them, in four formats, with known faults among good rows.

The good invoices are plain Decimal values here; each format writes them its own way
(en_US "1,309.00", de_DE "1.309,00", fr_FR "1 309,00" with a no-break space, XLSX typed
numbers and date cells). The expected ledger amounts are summed from the Decimals, not
from anything billbridge computes.

Faults, one of each among the good rows: a bad amount, a date not in the declared
format, an unknown currency, and one number used by two invoices that are not
consecutive rows.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_decimal

COLUMNS = (
    "number",
    "date",
    "customer_id",
    "customer_name",
    "customer_country",
    "currency",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "tax_rate",
    "tax_amount",
    "total",
)
TAX_ACCOUNTS = {"de19": "Liabilities:Tax:DE-19", "jp10": "Liabilities:Tax:JP-10"}
RECEIVABLE = "Assets:Receivable:Stripe"
REVENUE = "Income:Sales"


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax_rate: str = ""
    tax_amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class Invoice:
    number: str
    day: date
    customer: str
    name: str
    country: str
    currency: str
    lines: tuple[Line, ...]

    @property
    def total(self) -> Decimal:
        return sum((ln.amount + ln.tax_amount for ln in self.lines), Decimal(0))


def D(text: str) -> Decimal:  # noqa: N802 - reads like a literal
    return Decimal(text)


GOOD = (
    Invoice(
        "INV-1",
        date(2026, 3, 4),
        "C1",
        "Globex GmbH",
        "DE",
        "EUR",
        (
            Line("Consulting", D("2"), D("500.00"), D("1000.00"), "de19", D("190.00")),
            Line("Travel", D("1"), D("100.00"), D("100.00"), "de19", D("19.00")),
        ),
    ),
    Invoice(
        "INV-2",
        date(2026, 3, 5),
        "C2",
        "Initech Inc",
        "US",
        "USD",
        (Line("Licence", D("1"), D("1234.56"), D("1234.56")),),
    ),
    Invoice(
        "INV-3",
        date(2026, 3, 6),
        "C3",
        "Kaisha KK",
        "JP",
        "JPY",
        (Line("Support", D("3"), D("4000"), D("12000"), "jp10", D("1200")),),
    ),
    Invoice(
        "INV-4",
        date(2026, 3, 7),
        "C1",
        "Globex GmbH",
        "DE",
        "EUR",
        (
            Line("Training", D("1"), D("200.00"), D("200.00"), "de19", D("38.00")),
            Line("Discount", D("1"), D("-50.00"), D("-50.00"), "de19", D("-9.50")),
        ),
    ),
)

BAD_AMOUNT = Invoice(
    "BAD-AMT",
    date(2026, 3, 8),
    "C1",
    "Globex GmbH",
    "DE",
    "EUR",
    (Line("Bad amount", D("1"), D("10.00"), D("10.00"), "de19", D("1.90")),),
)
BAD_DATE = Invoice(
    "BAD-DATE",
    date(2026, 3, 9),
    "C1",
    "Globex GmbH",
    "DE",
    "EUR",
    (Line("Bad date", D("1"), D("10.00"), D("10.00")),),
)
BAD_CURRENCY = Invoice(
    "BAD-CUR",
    date(2026, 3, 9),
    "C1",
    "Globex GmbH",
    "DE",
    "EUR",
    (Line("Bad currency", D("1"), D("10.00"), D("10.00")),),
)
DUPLICATE = Invoice(
    "INV-9",
    date(2026, 3, 9),
    "C2",
    "Initech Inc",
    "US",
    "USD",
    (Line("Twice", D("1"), D("5.00"), D("5.00")),),
)
FAULTS = {  # record id -> the column its queue row names
    "BAD-AMT": "amount",
    "BAD-DATE": "date",
    "BAD-CUR": "currency",
    "INV-9": "number",
}


@dataclass(frozen=True)
class Format:
    """How one locale's spreadsheet writes a register, and its faulty cells."""

    name: str
    locale: str
    date_format: str
    delimiter: str
    encoding: str
    bad_amount: str  # what the locale cannot read as an amount
    bad_date: str  # a date not in the declared format
    suffix: str = ".csv"


FORMATS = {
    "en_US": Format("en_US", "en_US", "%m/%d/%Y", ",", "utf-8", "10,00", "09.03.2026"),
    "de_DE": Format("de_DE", "de_DE", "%d.%m.%Y", ";", "utf-8-sig", "1,234.56", "03/09/2026"),
    "fr_FR": Format("fr_FR", "fr_FR", "%d/%m/%Y", "\t", "cp1252", "10.000,5", "2026-03-09"),
    "xlsx": Format(
        "xlsx", "en_US", "%Y-%m-%d", ",", "utf-8", "10.005", "03/09/2026", suffix=".xlsx"
    ),
}


def amount_text(value: Decimal, currency: str, fmt: Format) -> str:
    pattern = "#,##0" if currency == "JPY" else "#,##0.00"
    text = str(format_decimal(value, format=pattern, locale=fmt.locale))
    if fmt.locale == "fr_FR":
        text = text.replace("\u202f", "\u00a0")  # cp1252 has the no-break space, not U+202F
    return text


def _rows(inv: Invoice, fmt: Format) -> list[list[object]]:
    head: list[object] = [inv.number, inv.day, inv.customer, inv.name, inv.country, inv.currency]
    return [
        [
            *head,
            ln.description,
            ln.quantity,
            ln.unit_price,
            ln.amount,
            ln.tax_rate,
            ln.tax_amount if ln.tax_rate else "",
            inv.total,
        ]
        for ln in inv.lines
    ]


def register_rows(fmt: Format, invoices: tuple[Invoice, ...] = GOOD) -> list[list[object]]:
    """Rows (typed values) of a register: the good invoices with the faults among them."""
    good = [_rows(inv, fmt) for inv in invoices]
    bad_amount = _rows(BAD_AMOUNT, fmt)
    bad_amount[0][9] = ("text", fmt.bad_amount) if fmt.suffix == ".csv" else float(fmt.bad_amount)
    bad_date = _rows(BAD_DATE, fmt)
    bad_date[0][1] = ("text", fmt.bad_date)
    bad_currency = _rows(BAD_CURRENCY, fmt)
    bad_currency[0][5] = "EURO"
    rows = [*good[0], *_rows(DUPLICATE, fmt), *bad_amount, *good[1], *bad_date]
    rows += [*good[2], *bad_currency, *_rows(DUPLICATE, fmt), *good[3]]
    for extra in good[4:]:
        rows += extra
    return rows


def _text(value: object, fmt: Format, currency: str) -> str:
    if isinstance(value, tuple):
        return str(value[1])
    if isinstance(value, date):
        return value.strftime(fmt.date_format)
    if isinstance(value, Decimal):
        return amount_text(value, currency, fmt)
    return str(value)


def write_register(path: Path, fmt: Format, invoices: tuple[Invoice, ...] = GOOD) -> Path:
    rows = register_rows(fmt, invoices)
    if fmt.suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(list(COLUMNS))
        for row in rows:
            cells: list[object] = []
            for value in row:
                if isinstance(value, tuple):
                    cells.append(value[1])
                elif isinstance(value, date):
                    cells.append(datetime(value.year, value.month, value.day))
                elif isinstance(value, Decimal):
                    cells.append(int(value) if value == value.to_integral() else float(value))
                else:
                    cells.append(value)
            sheet.append(cells)
        book.save(path)
        return path
    out = io.StringIO()
    writer = csv.writer(out, delimiter=fmt.delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_text(v, fmt, str(row[5])) for v in row])
    path.write_bytes(out.getvalue().encode(fmt.encoding))
    return path


def expected_sums(invoices: tuple[Invoice, ...] = GOOD) -> dict[tuple[str, str], Decimal]:
    """(account, currency) -> the sum the books must show for the issued invoices."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for inv in invoices:
        sums[RECEIVABLE, inv.currency] += inv.total
        for line in inv.lines:
            sums[REVENUE, inv.currency] -= line.amount
            if line.tax_rate:
                sums[TAX_ACCOUNTS[line.tax_rate], inv.currency] -= line.tax_amount
    return {k: v for k, v in sums.items() if v}
