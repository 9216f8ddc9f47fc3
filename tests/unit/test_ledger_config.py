"""billbridge.yaml for the ledger targets: each mistake names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from billbridge.config import (
    ConfigError,
    CsvExportConnection,
    GnuCashConnection,
    SqlLedgerConnection,
    load_workspace,
)

CONFIG = """\
connections:
  stripe:
    connector: stripe
    export: exports/stripe.jsonl
  books:
{books}
flows:
  - name: stripe-to-books
    from: stripe
    to: books
    mapping: mapping.yaml
"""


def write(tmp_path: Path, books: str) -> Path:
    path = tmp_path / "billbridge.yaml"
    path.write_text(CONFIG.format(books=books))
    return path


def test_each_target_loads_with_paths_resolved_against_the_workspace(tmp_path: Path) -> None:
    ws = load_workspace(write(tmp_path, "    connector: gnucash\n    path: books/main.gnucash"))
    conn = ws.connections["books"]
    assert isinstance(conn, GnuCashConnection) and conn.path == tmp_path / "books/main.gnucash"
    ws = load_workspace(write(tmp_path, "    connector: sqlgl\n    url: sqlite:///gl/l.db"))
    conn = ws.connections["books"]
    assert isinstance(conn, SqlLedgerConnection)
    assert conn.url == f"sqlite:///{tmp_path.resolve() / 'gl/l.db'}"
    ws = load_workspace(
        write(tmp_path, "    connector: csv-export\n    path: out\n    format: quickbooks-journal")
    )
    assert isinstance(ws.connections["books"], CsvExportConnection)


@pytest.mark.parametrize(
    ("books", "line", "field", "message"),
    [
        (
            "    connector: gnucash\n    path: b.gnucash\n    currency: eur",
            8,
            "connections.books.currency",
            "should match pattern",
        ),
        ("    connector: sqlgl\n    url: mysql://x/y", 7, "connections.books.url", "mysql"),
        (
            "    connector: csv-export\n    path: out\n    format: xero-sales-invoices",
            5,
            "connections.books",
            "set `tax_type:`",
        ),
        (
            "    connector: csv-export\n    path: out\n    format: sage",
            8,
            "connections.books.format",
            "quickbooks-journal",
        ),
        ("    connector: gnucash\n    book: b.gnucash", 5, "connections.books.path", "missing"),
        (
            "    connector: gnucash\n    path: b.gnucash\n    book: b",
            8,
            "connections.books.book",
            "unknown key",
        ),
    ],
)
def test_mistakes_name_file_line_and_field(
    tmp_path: Path, books: str, line: int, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_workspace(write(tmp_path, books))
    text = str(caught.value)
    assert f"billbridge.yaml:{line}: {field}:" in text, text
    assert message in text
