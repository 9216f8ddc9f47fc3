"""The manual export/import path, whole: invoice registers in four formats into two ledgers.

Each register (en_US, de_DE, fr_FR CSV and an XLSX workbook) holds good invoices with a
bad amount, a date not in the declared format, an unknown currency and one number used
by two invoices among them. Every good invoice posts once to Beancount and to the SQL
GL, with the amounts the file says per account and currency; every bad one is a queue
row naming file, line, column and what was expected; a second import posts nothing; an
edited invoice is a conflict, a voided one a reversal; a payments file pays them.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.connectors.beancount import ledger_lines as beancount_lines
from billbridge.connectors.beancount import posted_keys
from billbridge.connectors.spec import LedgerLine
from billbridge.connectors.sqlgl import ledger_lines as sqlgl_lines
from billbridge.workspace_files import create_workspace

from .conftest import Workspace
from .files_data import (
    FAULTS,
    FORMATS,
    GOOD,
    TAX_ACCOUNTS,
    Format,
    amount_text,
    expected_sums,
    write_register,
)
from .test_sync_flow import _bean_check

CONFIG = """\
connections:
  invoices:
    connector: files
    path: exports/{register}
    layout: [generic-invoices, generic-payments]
    locale: {locale}
    date_format: "{date_format}"
    encoding: {encoding}
  books:
    connector: beancount
    path: books/main.beancount
  gl:
    connector: sqlgl
    url: sqlite:///books/gl.db
flows:
  - {{name: invoices-to-books, from: invoices, to: books, mapping: mapping.yaml}}
  - {{name: invoices-to-gl, from: invoices, to: gl, mapping: mapping.yaml}}
state: .billbridge/state.db
"""


def files_workspace(root: Path, fmt: Format) -> Workspace:
    create_workspace(root, tax_rates=TAX_ACCOUNTS, timezone="Europe/Berlin")
    register = f"register{fmt.suffix}"
    (root / "billbridge.yaml").write_text(
        CONFIG.format(
            register=register,
            locale=fmt.locale,
            date_format=fmt.date_format,
            encoding="utf-8" if fmt.encoding == "utf-8-sig" else fmt.encoding,
        )
    )
    write_register(root / "exports" / register, fmt)
    return Workspace(root=root, state_url=f"sqlite:///{root / 'state.db'}")


def sums(lines: list[LedgerLine]) -> dict[tuple[str, str], Decimal]:
    """Per account and currency, as written (a priced leg's units, in its own currency)."""
    found: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        account, currency, amount = (line[3], line[6], line[7]) if len(line) == 8 else line[3:6]
        found[account, currency] += amount
    return {k: v for k, v in found.items() if v}


@pytest.fixture(params=sorted(FORMATS))
def fmt(request: pytest.FixtureRequest) -> Format:
    return FORMATS[request.param]


def test_a_register_posts_every_good_invoice_once_and_queues_each_bad_one(
    tmp_path: Path, fmt: Format
) -> None:
    ws = files_workspace(tmp_path / "ws", fmt)
    code, run = ws.cli("sync")
    assert code == 1, run  # the faults failed; the good rows went on
    for flow in run["runs"]:
        assert flow["counts"]["synced"] == len(GOOD), flow
        assert flow["counts"]["failed"] == len(FAULTS), flow
        assert flow["posted"] == len(GOOD)

    # Each good invoice once in each ledger, with the amounts the file says.
    keys = {f"invoices:invoice:{inv.number}" for inv in GOOD}
    assert dict(posted_keys(ws.ledger)) == {f"invoices-to-books|{k}|issue": 1 for k in keys}
    assert subprocess.run([_bean_check(), str(ws.ledger)], check=False).returncode == 0
    assert sums(list(beancount_lines(ws.ledger))) == expected_sums()
    gl = list(sqlgl_lines(f"sqlite:///{ws.root / 'books' / 'gl.db'}"))
    assert {line[1] for line in gl} == {f"invoices-to-gl|{k}|issue" for k in keys}
    assert sums(gl) == expected_sums()

    # Each bad row: one queue row per flow, naming file, line, column and what was expected.
    _, queue = ws.cli("queue")
    rows = {(row["flow"], row["record"]): row for row in queue}
    assert set(rows) == {
        (flow, f"invoices:invoice:{ident}")
        for flow in ("invoices-to-books", "invoices-to-gl")
        for ident in FAULTS
    }
    for (_flow, record), row in rows.items():
        ident = record.rsplit(":", 1)[1]
        assert row["field"] == FAULTS[ident], row
        assert f"register{fmt.suffix}, " in row["error"] and "line" in row["error"]
        assert f"column {FAULTS[ident]!r}" in row["error"], row
    amount = rows["invoices-to-books", "invoices:invoice:BAD-AMT"]["error"]
    assert repr(fmt.bad_amount) in amount or fmt.bad_amount in amount
    assert "expected" in amount
    when = rows["invoices-to-books", "invoices:invoice:BAD-DATE"]["error"]
    assert repr(fmt.bad_date) in when and f"({fmt.date_format})" in when
    assert (
        "'EURO' is not an ISO 4217"
        in rows["invoices-to-books", "invoices:invoice:BAD-CUR"]["error"]
    )
    dup = rows["invoices-to-books", "invoices:invoice:INV-9"]["error"]
    assert "appears more than once (line 4 and line " in dup

    # The same file again: nothing posted, nothing new in the queue.
    ledger = ws.entries_file.read_bytes()
    code, again = ws.cli("sync")
    for flow in again["runs"]:
        assert flow["posted"] == 0
        assert flow["counts"]["unchanged"] == len(GOOD) + len(FAULTS)
    assert ws.entries_file.read_bytes() == ledger
    _, queue_again = ws.cli("queue")
    assert len(queue_again) == len(queue)


def _rewrite(ws: Workspace, fmt: Format, old: str, new: str) -> None:
    path = ws.root / "exports" / f"register{fmt.suffix}"
    text = path.read_bytes().decode(fmt.encoding)
    assert old in text
    path.write_bytes(text.replace(old, new).encode(fmt.encoding))


@pytest.mark.parametrize("name", ["en_US", "de_DE"])
def test_an_edited_invoice_is_a_conflict_never_a_silent_edit(tmp_path: Path, name: str) -> None:
    fmt = FORMATS[name]
    ws = files_workspace(tmp_path / "ws", fmt)
    ws.cli("sync")
    posted = ws.entries_file.read_text()

    # INV-2's amount is changed in the file: a new version, never a silent edit.
    old = amount_text(Decimal("1234.56"), "USD", fmt)
    new = amount_text(Decimal("1243.56"), "USD", fmt)
    _rewrite(ws, fmt, old, new)
    _code, run = ws.cli("sync", "invoices-to-books")
    assert run["counts"]["conflict"] == 1 and run["posted"] == 0, run
    _, queue = ws.cli("queue")
    conflict = [r for r in queue if r["kind"] == "conflict"]
    assert [r["record"] for r in conflict] == ["invoices:invoice:INV-2"]
    assert ws.entries_file.read_text() == posted  # the posted entry stands as it was


def test_a_payments_file_pays_the_invoices_of_its_register(tmp_path: Path) -> None:
    fmt = FORMATS["de_DE"]
    ws = files_workspace(tmp_path / "ws", fmt)
    config = ws.root / "billbridge.yaml"
    # The payments list lies beside the register and is read by the same connection
    # (`layout:` lists both): payments relate to invoices of their own connection.
    text = config.read_text().replace("path: exports/register.csv", "path: exports/")
    config.write_text(text.replace("    layout: [", "    archive: false\n    layout: ["))
    (ws.root / "exports" / "payments.csv").write_text(
        "payment_id;date;invoice_number;currency;amount;fee\n"
        "P-1;10.03.2026;INV-1;EUR;1.309,00;2,50\n"
        "P-2;11.03.2026;INV-3;JPY;13.200;0\n"
        "P-3;12.03.2026;INV-404;EUR;5,00;0\n",  # no such invoice: held, never guessed
        encoding="utf-8",
    )
    code, run = ws.cli("sync", "invoices-to-books")
    assert code == 1, run
    keys = posted_keys(ws.ledger)
    assert keys["invoices-to-books|invoices:payment:P-1|payment"] == 1
    assert keys["invoices-to-books|invoices:payment:P-2|payment"] == 1
    _, queue = ws.cli("queue")
    held = [r for r in queue if r["kind"] == "held"]
    assert [(r["record"], r["waiting_on"]) for r in held] == [
        ("invoices:payment:P-3", "invoices:invoice:INV-404")
    ]
    text = ws.entries_file.read_text()
    assert '"Payment for INV-1 (fee 2.50 EUR)"' in text
    assert subprocess.run([_bean_check(), str(ws.ledger)], check=False).returncode == 0
    balances = sums(list(beancount_lines(ws.ledger)))
    # INV-1 (1309.00) is paid: the receivable holds what is left of the EUR invoices.
    assert balances["Assets:Receivable:Stripe", "EUR"] == Decimal("1309.00") + Decimal(
        "178.50"
    ) - Decimal("1309.00")
    assert ("Assets:Receivable:Stripe", "JPY") not in balances  # INV-3 paid in full
    assert balances["Expenses:Stripe:Fees", "EUR"] == Decimal("2.50")


def test_an_invoice_voided_in_a_later_export_is_reversed(tmp_path: Path) -> None:
    ws = files_workspace(tmp_path / "ws", FORMATS["en_US"])
    register = ws.root / "exports" / "register.csv"
    head = "number,date,customer_name,currency,description,amount,tax_rate,tax_amount,status\n"
    register.write_text(head + "INV-7,03/04/2026,Globex,EUR,Pro plan,100.00,de19,19.00,open\n")
    code, run = ws.cli("sync", "invoices-to-books")
    assert code == 0 and run["posted"] == 1, run
    register.write_text(head + "INV-7,03/04/2026,Globex,EUR,Pro plan,100.00,de19,19.00,void\n")
    code, run = ws.cli("sync", "invoices-to-books")
    assert code == 0 and run["posted"] == 1, run
    assert dict(posted_keys(ws.ledger)) == {
        "invoices-to-books|invoices:invoice:INV-7|issue": 1,
        "invoices-to-books|invoices:invoice:INV-7|void": 1,
    }
    assert sums(list(beancount_lines(ws.ledger))) == {}  # the void reverses the issue
    assert '"Void of invoice INV-7 — Globex"' in ws.entries_file.read_text()


def test_an_invoice_gone_from_a_later_export_is_reported_not_deleted(tmp_path: Path) -> None:
    ws = files_workspace(tmp_path / "ws", FORMATS["en_US"])
    register = ws.root / "exports" / "register.csv"
    head = "number,date,customer_name,currency,description,amount,total\n"
    register.write_text(
        head + "A-1,03/04/2026,Globex,EUR,x,10.00,10.00\nA-2,03/04/2026,Globex,EUR,y,20.00,20.00\n"
    )
    assert ws.cli("sync", "invoices-to-books")[0] == 0
    register.write_text(head + "A-1,03/04/2026,Globex,EUR,x,10.00,10.00\n")
    _code, run = ws.cli("sync", "invoices-to-books")
    assert run["posted"] == 0
    posted = ws.entries_file.read_text()
    _, report = ws.cli("reconcile", "invoices-to-books")
    (flow,) = report["flows"]
    gone = [d for d in flow["discrepancies"] if d["record_key"] == "invoices:invoice:A-2"]
    assert len(gone) == 1 and "the source no longer has the record" in gone[0]["detail"], report
    assert ws.entries_file.read_text() == posted  # reported, nothing reversed or deleted


def test_a_register_missing_a_required_column_is_a_configuration_error(tmp_path: Path) -> None:
    ws = files_workspace(tmp_path / "ws", FORMATS["en_US"])
    (ws.root / "exports" / "register.csv").write_text(
        "number,date,customer_name,amount\nA-1,03/04/2026,Globex,10.00\n"
    )
    code, answer = ws.cli("sync", "invoices-to-books")
    assert code == 2, answer
    assert "register.csv cannot be read" in answer["error"]
    assert "needs the column 'currency'" in answer["error"]
    assert not posted_keys(ws.ledger)


def test_the_readme_contract_runs_as_written(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("<!-- files-contract -->\n```yaml\n", 1)[1].split("```", 1)[0]
    root = tmp_path / "ws"
    create_workspace(root, tax_rates=TAX_ACCOUNTS, timezone="Europe/Berlin")
    books = "  books:\n    connector: beancount\n    path: books/main.beancount\n"
    (root / "billbridge.yaml").write_text(
        block.replace("flows:\n", books + "flows:\n") + "state: .billbridge/state.db\n"
    )
    (root / "inbox").mkdir()
    write_register(root / "inbox" / "register.csv", FORMATS["de_DE"])
    ws = Workspace(root=root, state_url=f"sqlite:///{root / 'state.db'}")
    code, run = ws.cli("sync")
    assert code == 1 and run["posted"] == len(GOOD), run  # the register's faults failed
    assert sums(list(beancount_lines(ws.ledger))) == expected_sums()
    assert [p.name for p in (root / "inbox").iterdir() if p.is_file()] == []
    assert len(list((root / "inbox" / "failed").glob("*-register.csv.report.json"))) == 1
