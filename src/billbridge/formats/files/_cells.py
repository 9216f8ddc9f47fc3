"""One record's cells, read by the declared locale and date format, problems gathered.

Why a reader object: an invoice spans several rows and a dozen cells, and a person
fixing the file wants every bad cell at once, each named by file, line and column with
its raw text and the format expected. `RecordCells` reads cell after cell, keeps going
after a bad one, and hands back the problems with the values it could read.

A record's data (as the files reader builds it)::

    {"object": "invoice", "layout": "generic-invoices",
     "columns": {"number": "Invoice No", …},          # field → the header in the file
     "rows": [{"number": "INV-1", "amount": "1.234,56", …}, …],
     "file": "march.csv", "lines": [2, 3]}           # where (not part of the version)

A cell is the text of a CSV cell, or for a typed XLSX cell `{"n": "<decimal>"}` (a
number, converted from the float openpyxl gives through `Decimal(str(value))`) or
`{"d": "YYYY-MM-DD"}` (a date).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal

from billbridge.domain import Money, Problem, is_currency, minor_units

from ..cells import CellError, date_pattern, parse_amount, parse_date, parse_decimal_cell

__all__ = ["RecordCells", "Settings", "cell_text"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """How a connection's files are written (billbridge.yaml), as the normalizer needs it.

    `date_formats[layout]` is the date format for files of that layout (the
    connection's `date_format:`, else the layout's own, else ISO 8601);
    `date_format_default` serves records of a layout not listed.
    """

    locale: str = "en_US"
    date_formats: Mapping[str, str] | None = None
    date_format_default: str = "%Y-%m-%d"
    currency: str | None = None
    timezone: str = "UTC"
    tax_inclusive: bool = False

    def date_format(self, layout: str) -> str:
        """The format for a record read with `layout` (one no longer configured: the
        connection's `date_format:`, else ISO 8601)."""
        return (self.date_formats or {}).get(layout, self.date_format_default)


def amount_example(locale: str) -> str:
    """How `locale` writes 1234.56 (for messages)."""
    return str(format_decimal(Decimal("1234.56"), format="#,##0.00", locale=locale))


def cell_text(cell: Any) -> str:
    """A cell as text: a CSV cell as written, a typed XLSX number or date as its value."""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, Mapping):
        number, day = cell.get("n"), cell.get("d")
        if isinstance(number, str):
            return _plain(number)
        if isinstance(day, str):
            return day
    return ""


def _plain(number: str) -> str:
    """A number cell as a person reads it: 1001, not 1001.0 (an id typed as a number)."""
    try:
        value = Decimal(number)
        if value.is_finite() and value == value.to_integral_value():
            return f"{value.quantize(Decimal(1)):f}"
    except InvalidOperation:
        pass
    return number


class RecordCells:
    """The cells of one record; each read returns a value or None and notes the problem."""

    def __init__(self, data: Mapping[str, Any], *, record: str, settings: Settings) -> None:
        self.record = record
        self.settings = settings
        rows = data.get("rows")
        self.rows: Sequence[Mapping[str, Any]] = (
            [r for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []
        )
        columns = data.get("columns")
        self.columns: Mapping[str, Any] = columns if isinstance(columns, Mapping) else {}
        file = data.get("file")
        self.file = file if isinstance(file, str) else ""
        lines = data.get("lines")
        self.lines: list[int] = (
            [n for n in lines if isinstance(n, int)] if isinstance(lines, list) else []
        )
        layout = data.get("layout")
        self.date_format = settings.date_format(layout if isinstance(layout, str) else "")
        self.problems: list[Problem] = []

    # -- where ------------------------------------------------------------------------------
    def header(self, name: str) -> str:
        header = self.columns.get(name)
        return header if isinstance(header, str) and header else name

    def where(self, row: int | None, name: str | None = None) -> str:
        """`march.csv, line 4, column 'amount'` (as much as is known)."""
        parts = [self.file] if self.file else []
        if row is None:
            if self.lines:
                first, last = self.lines[0], self.lines[-1]
                parts.append(f"line {first}" if first == last else f"lines {first}-{last}")
        elif row < len(self.lines):
            parts.append(f"line {self.lines[row]}")
        else:
            parts.append(f"row {row + 1} of the record")
        if name is not None:
            parts.append(f"column {self.header(name)!r}")
        return ", ".join(parts)

    def fail(self, row: int | None, name: str, message: str, hint: str = "") -> None:
        self.problems.append(
            Problem(
                record=self.record,
                field=self.header(name),
                message=f"{self.where(row, name)}: {message}",
                hint=hint
                or f"correct the cell in {self.file or 'the file'} and import it again (or "
                "fix `locale:`/`date_format:` of the connection in billbridge.yaml and replay)",
            )
        )

    # -- cells ------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        """Whether the file has a column for `name`."""
        return name in self.columns

    def raw(self, row: int, name: str) -> Any:
        return self.rows[row].get(name, "") if row < len(self.rows) else ""

    def text(self, row: int, name: str) -> str:
        return cell_text(self.raw(row, name))

    def same_text(self, name: str) -> str:
        """A per-document cell (number, date, currency, total…): one value on every row."""
        first = self.text(0, name)
        for row in range(1, len(self.rows)):
            other = self.text(row, name)
            if other != first:
                self.fail(
                    row,
                    name,
                    f"{other!r} differs from {first!r} on {self.where(0).split(', ')[-1]} of "
                    f"the same document; every row of one document repeats its {name}",
                    "make the column agree on every row of the document (or give each "
                    "document its own number), then import the file again",
                )
        return first

    def required(self, row: int, name: str) -> str:
        value = self.text(row, name)
        if not value:
            self.fail(row, name, f"the cell is empty; a {name.replace('_', ' ')} is required")
        return value

    def currency(self) -> str | None:
        code = self.same_text("currency") if self.has("currency") else ""
        if not code:
            if self.settings.currency:
                return self.settings.currency
            self.fail(
                0,
                "currency",
                "the cell is empty; an ISO 4217 currency code is required",
                "write the code (e.g. EUR), or declare `currency:` on the connection",
            )
            return None
        if not is_currency(code.upper()):
            self.fail(
                0,
                "currency",
                f"{code!r} is not an ISO 4217 currency code (such as EUR or USD)",
                "write the currency's three-letter code, then import the file again",
            )
            return None
        return code.upper()

    def amount(
        self, row: int, name: str, currency: str, *, empty_is: Money | None = None
    ) -> Money | None:
        cell = self.raw(row, name)
        if empty_is is not None and not cell_text(cell):
            return empty_is
        if isinstance(cell, Mapping) and isinstance(cell.get("n"), str):
            return self._typed_amount(row, name, cell["n"], currency)
        try:
            return parse_amount(
                cell_text(cell) if cell else "", locale=self.settings.locale, currency=currency
            )
        except ValueError as exc:  # a CellError, or a MoneyError for an amount too large
            message = str(exc)
            if "expected" not in message:
                message += f" (expected an amount as {self.settings.locale} writes it, e.g. "
                message += f"{amount_example(self.settings.locale)!r})"
            self.fail(row, name, message)
            return None

    def _typed_amount(self, row: int, name: str, text: str, currency: str) -> Money | None:
        units = minor_units(currency)
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.fail(row, name, f"{text!r} is not a number")
            return None
        exact = value.quantize(Decimal(1).scaleb(-units)) if value.is_finite() else None
        if exact is None or exact != value:
            self.fail(
                row,
                name,
                f"the number cell holds {text}, which has more decimals than {currency}'s "
                f"{units} minor units (expected a number with at most {units} decimals)",
                "round the cell to the currency's minor units in the workbook (a formula "
                "result may carry binary noise), then import it again",
            )
            return None
        try:
            return Money(exact, currency)
        except ValueError as exc:
            self.fail(row, name, str(exc))
            return None

    def decimal(self, row: int, name: str, *, empty_is: Decimal | None = None) -> Decimal | None:
        cell = self.raw(row, name)
        if isinstance(cell, Mapping) and isinstance(cell.get("n"), str):
            try:
                return Decimal(cell["n"])
            except InvalidOperation:
                self.fail(row, name, f"{cell['n']!r} is not a number")
                return None
        text = cell_text(cell)
        if not text and empty_is is not None:
            return empty_is
        try:
            return parse_decimal_cell(text, locale=self.settings.locale)
        except CellError as exc:
            self.fail(row, name, str(exc))
            return None

    def day(self, row: int, name: str, *, optional: bool = False) -> date | None:
        cell = self.raw(row, name)
        if isinstance(cell, Mapping):
            if isinstance(cell.get("d"), str):
                try:
                    return date.fromisoformat(cell["d"])
                except ValueError:
                    pass
            self.fail(
                row,
                name,
                f"the cell holds the number {cell_text(cell)}, not a date "
                f"(expected a date cell, or text in the format {date_pattern(self.date_format)})",
            )
            return None
        text = cell_text(cell)
        if optional and not text:
            return None
        try:
            return parse_date(text, self.date_format)
        except CellError as exc:
            self.fail(row, name, str(exc))
            return None
