"""Export files checked against the vendors' published import templates (tests/data)."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from billbridge.connectors.csv_export import MANIFEST, CsvExportTarget, exported_keys
from billbridge.domain import JournalEntry, Money, Posting

TEMPLATES: dict[str, Any] = orjson.loads(
    (Path(__file__).parents[2] / "data" / "import_templates.json").read_bytes()
)


def entry(n: int, kind: str = "invoice", facet: str = "issue") -> JournalEntry:
    legs: tuple[tuple[str, str, str], ...]
    if kind == "invoice":
        legs = (
            ("Assets:Receivable:Stripe", "119.00", ""),
            ("Income:Sales:Pro", "-100.00", "Pro plan, March"),
            ("Liabilities:Tax:DE-19", "-19.00", ""),
        )
    else:
        legs = (
            ("Assets:Stripe:Clearing", "118.41", ""),
            ("Expenses:Stripe:Fees", "0.59", ""),
            ("Assets:Receivable:Stripe", "-119.00", ""),
        )
    return JournalEntry(
        date=date(2024, 3, 5),
        narration=f'Invoice HB-{n:04d} — Globex, Corp "EU"',
        payee='Globex, Corp "EU"',
        key=f"flow|stripe:{kind}:x_{n}|{facet}",
        source=f"stripe:{kind}:x_{n}",
        version="v1",
        postings=tuple(
            Posting(account=a, amount=Money(Decimal(v), "EUR"), memo=m) for a, v, m in legs
        ),
    )


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def files(folder: Path, fmt: str) -> list[Path]:
    return sorted(folder.glob(f"{fmt}-*.csv"))


def run(folder: Path, fmt: str, entries: list[JournalEntry], committed: int = 0) -> int:
    """One run: recover, write each record, flush; return the position to commit."""
    target = CsvExportTarget("export", folder, fmt, tax_type="Tax Exempt")
    try:
        done = target.recover(committed)
        for e in entries:
            if e.key not in done:
                target.write([e])
        return target.flush()
    finally:
        target.close()


def test_quickbooks_journal_matches_the_published_columns_and_balances(tmp_path: Path) -> None:
    spec = TEMPLATES["quickbooks-journal"]
    run(tmp_path, "quickbooks-journal", [entry(1), entry(2, "charge", "payment")])
    [path] = files(tmp_path, "quickbooks-journal")
    header, rows = read_rows(path)
    assert header == spec["columns"]
    assert len(rows) == 6
    for row in rows:
        assert all(row[c] or c in {"Debits", "Credits"} for c in spec["required"])
        assert bool(row["Debits"]) != bool(row["Credits"])  # one side per line
        datetime.strptime(row["Journal Date"], spec["date_format"])  # noqa: DTZ007
        assert len(row["Journal No."]) <= 21
    by_journal: dict[str, Decimal] = {}
    for row in rows:
        amount = Decimal(row["Debits"] or "0") - Decimal(row["Credits"] or "0")
        by_journal[row["Journal No."]] = by_journal.get(row["Journal No."], Decimal(0)) + amount
    assert len(by_journal) == 2 and set(by_journal.values()) == {Decimal(0)}
    assert rows[0]["Name"] == 'Globex, Corp "EU"'  # quoted, not split
    assert rows[1]["Description"] == "Pro plan, March [stripe:invoice:x_1]"


def test_xero_sales_invoices_match_the_template_and_skip_payments(tmp_path: Path) -> None:
    spec = TEMPLATES["xero-sales-invoices"]
    run(tmp_path, "xero-sales-invoices", [entry(1), entry(2, "charge", "payment"), entry(3)])
    [path] = files(tmp_path, "xero-sales-invoices")
    header, rows = read_rows(path)
    assert header == spec["columns"]
    assert len(rows) == 4  # two lines for each of the two invoices; the payment is not one
    for row in rows:
        assert all(row[c] for c in spec["required"]), row
        datetime.strptime(row["*InvoiceDate"], spec["date_format"])  # noqa: DTZ007
    first = [r for r in rows if r["*InvoiceNumber"] == "x_1"]
    assert sum(Decimal(r["*UnitAmount"]) * Decimal(r["*Quantity"]) for r in first) == Decimal(
        "119.00"
    )
    assert {r["*AccountCode"] for r in first} == {"Income:Sales:Pro", "Liabilities:Tax:DE-19"}
    # the payment is recorded as handled (never offered again) but has no rows
    assert exported_keys(tmp_path)["flow|stripe:charge:x_2|payment"] == 1


def test_rerunning_an_export_writes_nothing_twice(tmp_path: Path) -> None:
    committed = run(tmp_path, "quickbooks-journal", [entry(1), entry(2)])
    again = run(tmp_path, "quickbooks-journal", [entry(1), entry(2), entry(3)], committed)
    paths = files(tmp_path, "quickbooks-journal")
    assert len(paths) == 2  # one file per run
    journals = [{r["Journal No."] for r in read_rows(p)[1]} for p in paths]
    assert len(journals[0]) == 2 and len(journals[1]) == 1
    assert not journals[0] & journals[1]
    run(tmp_path, "quickbooks-journal", [entry(1), entry(2), entry(3)], again)
    assert len(files(tmp_path, "quickbooks-journal")) == 2  # nothing new: no file at all
    assert set(exported_keys(tmp_path).values()) == {1}


def test_recover_after_a_kill_keeps_recorded_rows_and_cuts_unrecorded_ones(
    tmp_path: Path,
) -> None:
    target = CsvExportTarget("export", tmp_path, "quickbooks-journal")
    target.recover(0)
    target.write([entry(1)])
    target.flush()  # written and fsynced; the state store commit is lost (killed)
    [path] = files(tmp_path, "quickbooks-journal")
    recorded_size = path.stat().st_size
    with path.open("ab") as handle:  # a write the kill cut before its manifest line
        handle.write(b"BB-torn,03/05/2024,Assets:X,1.00,,half")
    with (tmp_path / MANIFEST).open("ab") as handle:
        handle.write(b'{"file": "torn')  # and a torn manifest line
    target.close()

    again = CsvExportTarget("export", tmp_path, "quickbooks-journal")
    found = again.recover(0)
    again.close()
    assert set(found) == {"flow|stripe:invoice:x_1|issue"}
    assert path.stat().st_size == recorded_size
    assert (tmp_path / MANIFEST).read_bytes().endswith(b"]]]}}\n")  # the torn line is gone


def test_a_file_with_no_recorded_write_is_removed_on_recover(tmp_path: Path) -> None:
    target = CsvExportTarget("export", tmp_path, "quickbooks-journal")
    target.write([entry(1)])
    [path] = files(tmp_path, "quickbooks-journal")
    (tmp_path / MANIFEST).write_bytes(b"")  # the manifest line never reached the disk
    target.close()
    again = CsvExportTarget("export", tmp_path, "quickbooks-journal")
    assert again.recover(0) == {}
    again.close()
    assert not path.exists()


def test_render_is_the_header_and_rows(tmp_path: Path) -> None:
    target = CsvExportTarget("export", tmp_path, "quickbooks-journal")
    text = target.render([entry(1)])
    target.close()
    lines = text.splitlines()
    assert lines[0] == ",".join(TEMPLATES["quickbooks-journal"]["columns"])
    assert len(lines) == 4
    assert files(tmp_path, "quickbooks-journal") == []


@pytest.mark.parametrize("fmt", ["quickbooks-journal", "xero-sales-invoices"])
def test_every_format_has_its_template_in_the_test_data(fmt: str) -> None:
    from billbridge.connectors.csv_export import FORMATS

    assert FORMATS[fmt].columns == tuple(TEMPLATES[fmt]["columns"])


def test_a_xero_invoice_without_a_customer_name_is_a_record_error(tmp_path: Path) -> None:
    from dataclasses import replace

    from billbridge.connectors.base import RecordError

    target = CsvExportTarget("export", tmp_path, "xero-sales-invoices", tax_type="Tax Exempt")
    try:
        with pytest.raises(RecordError, match=r"needs \*ContactName"):
            target.write([replace(entry(1), payee="")])
        assert files(tmp_path, "xero-sales-invoices") == []
    finally:
        target.close()


def test_rows_whose_manifest_line_failed_are_cut_so_a_retry_exports_them_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up between a write's rows and its manifest line (a full disk is the
    one failure injected here, at the OS call): the rows must not stay behind, or the
    retry's copy would be imported a second time."""
    import errno

    from billbridge.connectors import _files
    from billbridge.connectors.base import RetryableError
    from billbridge.connectors.csv_export import _target

    real = _files.append_whole
    calls = {"manifest": 0}

    def append(fd: int, data: bytes, before: int, path: Path) -> None:
        if path.name == MANIFEST:
            calls["manifest"] += 1
            if calls["manifest"] == 2:  # the second write's manifest line
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(fd, data, before, path)

    monkeypatch.setattr(_target, "append_whole", append)
    target = CsvExportTarget("export", tmp_path, "quickbooks-journal")
    try:
        target.recover(0)
        target.write([entry(1)])
        with pytest.raises(RetryableError, match="disk is full"):
            target.write([entry(2)])
        target.write([entry(2)])  # the retry, once there is room again
        target.flush()
    finally:
        target.close()
    [path] = files(tmp_path, "quickbooks-journal")
    _header, rows = read_rows(path)
    numbers = [row["Journal No."] for row in rows]
    assert len(numbers) == 2 * 3 and len(set(numbers)) == 2  # two entries, three legs each
    assert set(exported_keys(tmp_path).values()) == {1}
