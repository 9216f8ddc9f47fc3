"""Reading one export file into records: CSV (any delimiter and encoding) or XLSX.

Why records are built here and read later: a record's identity and grouping (the rows
of one invoice) need the whole file, and its version must be its content alone, so the
same rows in a renamed or reordered export are `unchanged`. Each record's `raw` (the
bytes the engine hashes and keeps) holds only what the file says: the kind, the layout,
the headers and the cells. Where it stands (file, lines) rides in `data` alone, for
messages and reports.

A file that cannot be read as a whole (not text in its encoding, a required column
missing, no delimiter that gives the layout's headers) is a `FileProblem`; the source
decides what that means (a stopped run for one file, a failed file in a folder).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from billbridge.connectors.base import RawRecord
from billbridge.formats.files import Layout, cell_text, identity, match_header, missing_fields

__all__ = ["FileProblem", "Table", "build_records", "read_table"]

_DELIMITERS = (",", ";", "\t", "|")


class FileProblem(Exception):  # noqa: N818 - a value the source turns into a failure
    """The file cannot be read as a whole; the message names it and says what to change."""


@dataclass(frozen=True, slots=True)
class Table:
    """A file's header and rows (line number, cells) with empty rows left out."""

    header: list[str]
    rows: list[tuple[int, list[Any]]]


def _decode(path: Path, data: bytes, encoding: str) -> str:
    codec = codecs.lookup(encoding).name
    try:
        return data.decode("utf-8-sig" if codec == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileProblem(
            f"{path.name}, line {line}: byte {data[exc.start]:#04x} is not {encoding} text; "
            "declare the file's `encoding:` on the connection (e.g. cp1252 or latin-1)"
        ) from None


def _sniff(path: Path, text: str, layouts: Sequence[Layout]) -> str:
    """The delimiter that splits the header into the most known columns (never a guess:
    a header none of them splits into a known column is refused)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    best, score = "", 0
    for delimiter in _DELIMITERS:
        cells = next(csv.reader([first], delimiter=delimiter), [])
        found = max(
            (sum(1 for c in cells if layout.field_of(c) is not None) for layout in layouts),
            default=0,
        )
        if found > score:
            best, score = delimiter, found
    if not best:
        raise FileProblem(
            f"{path.name}: its first line names none of the columns of the layout "
            f"({', '.join(lay.name for lay in layouts)}) with any delimiter "
            f"({' '.join(repr(d) for d in _DELIMITERS)}); check the layout, or set `delimiter:`"
        )
    return best


def _csv_table(
    path: Path, data: bytes, *, encoding: str, delimiter: str | None, layouts: Sequence[Layout]
) -> Table:
    text = _decode(path, data, encoding)
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter or _sniff(path, text, layouts)
    )
    header: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
            else:
                rows.append((start, list(cells)))
    except csv.Error as exc:
        raise FileProblem(f"{path.name}, line {reader.line_num}: not valid CSV ({exc})") from None
    return Table(header=header or [], rows=rows)


def _xlsx_cell(value: Any) -> Any:
    """A typed XLSX cell as text or a marked value; a float only ever through its str()."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return {"n": str(value)}
    if isinstance(value, float):
        return {"n": str(Decimal(str(value)))}
    if isinstance(value, datetime):
        return {"d": value.date().isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, time):
        return value.isoformat()
    return str(value)


def _xlsx_table(path: Path, *, sheet: str | None) -> Table:
    from openpyxl import load_workbook  # noqa: PLC0415 - only for .xlsx files

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise FileProblem(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise FileProblem(
                f"{path.name}: no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})"
            )
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        header: list[str] | None = None
        rows: list[tuple[int, list[Any]]] = []
        for line, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_xlsx_cell(v) for v in values]
            if not any(cell_text(c) for c in cells):
                continue
            if header is None:
                header = [cell_text(c) for c in cells]
            else:
                rows.append((line, cells))
    finally:
        book.close()
    return Table(header=header or [], rows=rows)


def read_table(
    path: Path,
    *,
    encoding: str,
    delimiter: str | None,
    sheet: str | None,
    layouts: Sequence[Layout],
) -> Table:
    """The file's header and non-empty rows; `FileProblem` when it cannot be read."""
    try:
        if path.suffix.lower() == ".xlsx":
            return _xlsx_table(path, sheet=sheet)
        data = path.read_bytes()
    except OSError as exc:
        raise FileProblem(f"{path.name}: cannot be read ({exc.strerror})") from None
    return _csv_table(path, data, encoding=encoding, delimiter=delimiter, layouts=layouts)


def _choose(
    path: Path, header: list[str], layouts: Sequence[Layout], currency: bool
) -> tuple[Layout, dict[str, int]]:
    """The layout whose required columns the header has (the most columns matched wins)."""
    fits: list[tuple[int, Layout, dict[str, int]]] = []
    refusals: list[str] = []
    for layout in layouts:
        present, problems = match_header(layout, header)
        missing = missing_fields(layout, present, currency=currency)
        if problems:
            refusals.append(f"{layout.name}: {'; '.join(problems)}")
        elif missing:
            names = ", ".join(repr(layout.columns[m][0]) for m in missing)
            refusals.append(f"the layout {layout.name} needs the column {names}")
        else:
            fits.append((len(present), layout, present))
    if not fits:
        shown = ", ".join(repr(h) for h in header) or "none"
        raise FileProblem(
            f"configuration error: {path.name} cannot be read: {'; '.join(refusals)} "
            f"(its columns: {shown}); fix the file, `layout:` or the `columns:` map"
        )
    _count, layout, present = max(fits, key=lambda fit: fit[0])
    return layout, present


def build_records(
    path: Path, name: str, table: Table, layouts: Sequence[Layout], *, currency: bool, position: str
) -> list[RawRecord]:
    """The file's records in file order: one per document (its rows grouped) or row.

    A document number used by two documents that are not one run of consecutive rows is
    one record carrying `duplicate` (its normalization fails, naming the lines); a row
    with no identity is an error record.
    """
    layout, present = _choose(path, table.header, layouts, currency)
    columns = {f: table.header[i] for f, i in present.items()}
    kind = layout.object
    groups: list[tuple[str, list[tuple[int, dict[str, Any]]]]] = []
    errors: list[RawRecord] = []
    for line, values in table.rows:
        cells = {f: values[i] if i < len(values) else "" for f, i in present.items()}
        ident = identity(kind, cells)
        if not ident:
            field = "number" if kind in ("invoice", "credit_note") else f"{kind}_id"
            errors.append(
                _error(
                    kind,
                    f"{name}#{line}",
                    line,
                    position,
                    (
                        f"{name}, line {line}, column {columns.get(field, field)!r}: the cell "
                        f"is empty; every row needs its {field.replace('_', ' ')}"
                    ),
                )
            )
            continue
        if layout.grouped and groups and groups[-1][0] == ident:
            groups[-1][1].append((line, cells))
        else:
            groups.append((ident, [(line, cells)]))
    by_id: dict[str, list[list[tuple[int, dict[str, Any]]]]] = {}
    for ident, rows in groups:
        by_id.setdefault(ident, []).append(rows)
    records: list[RawRecord] = []
    done: set[str] = set()
    for ident, _rows in groups:
        if ident in done:
            continue
        done.add(ident)
        parts = by_id[ident]
        content: dict[str, Any] = {"object": kind, "layout": layout.name, "columns": columns}
        every = [row for part in parts for row in part]
        content["rows"] = [cells for _line, cells in every]
        if len(parts) > 1:
            content["duplicate"] = [[line for line, _ in part] for part in parts]
        lines = [line for line, _ in every]
        raw = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        data = {**content, "file": name, "lines": lines}
        records.append(
            RawRecord(object=kind, id=ident, data=data, raw=raw, position=position, line=lines[0])
        )
    return records + errors


def _error(kind: str, ident: str, line: int, position: str, message: str) -> RawRecord:
    return RawRecord(
        object=kind,
        id=ident,
        data={},
        raw=message.encode(),
        position=position,
        line=line,
        error=message,
    )
