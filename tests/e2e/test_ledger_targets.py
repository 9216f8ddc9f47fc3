"""The engine's test export posted to Beancount, GnuCash and the SQL ledger: same books.

Each target gets its own workspace (the same export, mapping and flow name), synced
through the real CLI; the per-account balances read back from each target must be
identical, `books check` must pass on each, and a re-run must write nothing.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.connectors import beancount, gnucash, sqlgl
from billbridge.connectors.csv_export import exported_keys
from billbridge.connectors.sqlgl import _read as sqlgl_read
from billbridge.domain import minor_units

from .conftest import make_workspace
from .ledgers import retarget
from .test_sync_flow import FAULTS, expected_facets


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def gl_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return "sqlite:///books/ledger.db"  # relative: resolved against the workspace
    return str(request.getfixturevalue("pg_url"))


def _nonzero(balances: dict[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    return {k: v for k, v in balances.items() if v}


def test_same_export_gives_the_same_balances_in_all_three_ledgers(
    tmp_path: Path, gl_url: str
) -> None:
    pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
    state = tmp_path / "state"
    state.mkdir()
    bean = make_workspace(tmp_path / "bean", f"sqlite:///{state / 'bean.db'}")
    gnc = retarget(
        make_workspace(tmp_path / "gnc", f"sqlite:///{state / 'gnc.db'}"),
        "    connector: gnucash\n    path: books/main.gnucash\n    currency: EUR",
    )
    gl = retarget(
        make_workspace(tmp_path / "gl", f"sqlite:///{state / 'gl.db'}"),
        f"    connector: sqlgl\n    url: {gl_url}",
    )
    records = bean.records()
    expected = expected_facets(records)
    runs = {}
    for name, ws in (("beancount", bean), ("gnucash", gnc), ("sqlgl", gl)):
        code, run = ws.cli("sync")
        assert code == 1, (name, run)  # the deliberate faults fail, everything else posts
        assert run["counts"]["failed"] == len(FAULTS)
        runs[name] = run["counts"]
    assert runs["beancount"] == runs["gnucash"] == runs["sqlgl"]

    gl_read = gl_url if gl_url.startswith("postgresql") else f"sqlite:///{gl.root}/books/ledger.db"
    in_beancount = _nonzero(beancount.balances(bean.ledger))
    in_gnucash = _nonzero(gnucash.balances(gnc.root / "books" / "main.gnucash"))
    in_sql = _nonzero(sqlgl.balances(gl_read))
    assert len(in_beancount) > 20
    assert {c for _, c in in_beancount} >= {"EUR", "JPY", "KWD"}
    assert in_gnucash == in_beancount
    assert in_sql == in_beancount

    assert gnucash.posted_keys(gnc.root / "books" / "main.gnucash") == Counter(
        dict.fromkeys(expected, 1)
    )
    assert sqlgl.posted_keys(gl_read) == Counter(dict.fromkeys(expected, 1))

    for ws in (bean, gnc, gl):
        code, report = ws.cli("books", "check")
        assert code == 0, report
        [target] = report["targets"]
        assert target["ok"] and target["differences"] == []
        assert set(target["trial_balance"].values()) == {"0"} or all(
            Decimal(v) == 0 for v in target["trial_balance"].values()
        )
        objects = {t["object"] for t in target["totals"]}
        assert {"invoice", "charge", "refund", "credit_note", "payout"} <= objects
        assert all(Decimal(t["source"]) == Decimal(t["posted"]) for t in target["totals"])
        code, again = ws.cli("sync")
        assert again["posted"] == 0 and again["counts"]["unchanged"] == len(records)


def test_books_check_reads_the_sql_ledger_in_pages(
    tmp_path: Path, gl_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gl = retarget(
        make_workspace(tmp_path / "gl", f"sqlite:///{tmp_path / 'state.db'}", invoices=20),
        f"    connector: sqlgl\n    url: {gl_url}",
    )
    gl.cli("sync")
    code, whole = gl.cli("books", "check")
    assert code == 0, whole
    read = gl_url if gl_url.startswith("postgresql") else f"sqlite:///{gl.root}/books/ledger.db"
    db = sqlgl.connect(read)
    expected = [
        (f"journal:{j}", idem, record, account, currency.strip(), Decimal(str(amount)))
        for j, idem, record, account, currency, amount in db.execute(
            "SELECT j.id, j.idempotency_key, j.record_key, l.account, l.currency, l.amount "
            "FROM journal_line l JOIN journal j ON j.id = l.journal_id "
            "ORDER BY j.id, l.line_no"
        ).fetchall()
    ]
    db.close()
    assert len(expected) > 100

    monkeypatch.setattr(sqlgl_read, "_PAGE", 7)  # pages end mid-entry, the last one is short
    assert len(expected) % 7
    assert list(sqlgl.ledger_lines(read)) == expected
    code, paged = gl.cli("books", "check")
    assert (code, paged) == (0, whole)


def test_books_check_lists_missing_and_unknown_postings_record_by_record(
    tmp_path: Path,
) -> None:
    gl = retarget(
        make_workspace(tmp_path / "gl", f"sqlite:///{tmp_path / 'state.db'}", invoices=20),
        "    connector: sqlgl\n    url: sqlite:///books/ledger.db",
    )
    gl.cli("sync")
    code, report = gl.cli("books", "check")
    assert code == 0, report
    db = sqlgl.connect(f"sqlite:///{gl.root / 'books' / 'ledger.db'}")
    victim, dropped = db.execute(
        "SELECT id, idempotency_key FROM journal ORDER BY id LIMIT 2"
    ).fetchall()
    # a person copies one entry (with its lines) under another key and deletes another one
    db.begin()
    copy = db.execute(
        "INSERT INTO journal (idempotency_key, record_key, source_version, entity, entry_date, "
        "narration, payee, links, meta) SELECT idempotency_key || '-copy', record_key, "
        "source_version, entity, entry_date, narration, payee, links, meta FROM journal "
        "WHERE id = ? RETURNING id",
        (victim[0],),
    ).fetchone()[0]
    db.execute(
        "INSERT INTO journal_line SELECT ?, line_no, account, currency, amount, memo "
        "FROM journal_line WHERE journal_id = ?",
        (copy, victim[0]),
    )
    db.execute("DELETE FROM journal_line WHERE journal_id = ?", (dropped[0],))
    db.execute("DELETE FROM journal WHERE id = ?", (dropped[0],))
    db.commit()
    db.close()

    code, report = gl.cli("books", "check")
    assert code == 1
    differences = report["targets"][0]["differences"]
    kinds = {(d["kind"], d["record"]) for d in differences}
    assert ("missing", dropped[1].split("|")[1]) in kinds
    assert ("unknown", victim[1].split("|")[1]) in kinds
    assert all(d["detail"] for d in differences)


def test_books_check_finds_an_entry_posted_twice(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "bean", f"sqlite:///{tmp_path / 'state.db'}", invoices=20)
    ws.cli("sync")
    block = ws.entries_file.read_text().split("\n\n")[0]
    with ws.ledger.open("a") as handle:  # a person pastes one entry into the main ledger
        handle.write("\n" + block.split("; billbridge-end")[0] + "\n")
    code, report = ws.cli("books", "check")
    assert code == 1
    [duplicate] = [d for d in report["targets"][0]["differences"] if d["kind"] == "duplicate"]
    assert "posted 2 times" in duplicate["detail"]
    amounts = [d for d in report["targets"][0]["differences"] if d["kind"] == "amount"]
    assert [d["record"] for d in amounts] == [duplicate["record"]]  # debited twice as well


def test_csv_exports_from_the_engine_are_exactly_once(tmp_path: Path) -> None:
    ws = retarget(
        make_workspace(tmp_path / "qb", f"sqlite:///{tmp_path / 'state.db'}", invoices=30),
        "    connector: csv-export\n    path: exports-out\n    format: quickbooks-journal",
    )
    code, run = ws.cli("sync")
    assert code == 1 and run["posted"] > 0
    keys = exported_keys(ws.root / "exports-out")
    assert set(keys) == expected_facets(ws.records())
    assert set(keys.values()) == {1}
    code, again = ws.cli("sync")
    assert again["posted"] == 0
    assert len(list((ws.root / "exports-out").glob("quickbooks-journal-*.csv"))) == 1


def test_xero_export_from_the_engine_holds_each_issued_invoice_once(tmp_path: Path) -> None:
    import csv

    ws = retarget(
        make_workspace(tmp_path / "xero", f"sqlite:///{tmp_path / 'state.db'}", invoices=30),
        "    connector: csv-export\n    path: exports-out\n    format: xero-sales-invoices\n"
        "    tax_type: Tax Exempt",
    )
    code, _run = ws.cli("sync")
    assert code == 1
    [path] = (ws.root / "exports-out").glob("xero-sales-invoices-*.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    issued = {k.split("|")[1] for k in expected_facets(ws.records()) if k.endswith("|issue")}
    assert {f"stripe:invoice:{r['*InvoiceNumber']}" for r in rows} == issued
    assert {r["Reference"] for r in rows} == issued
    totals: dict[str, Decimal] = {}
    for row in rows:
        amount = Decimal(row["*UnitAmount"]) * Decimal(row["*Quantity"])
        totals[row["*InvoiceNumber"]] = totals.get(row["*InvoiceNumber"], Decimal(0)) + amount
    for record in ws.records():
        if record["object"] == "invoice" and record["id"] in totals:
            currency = record["currency"].upper()
            assert totals[record["id"]] == Decimal(record["total"]).scaleb(
                -minor_units(currency)
            ), record["id"]
    # every good record is recorded as handled exactly once, rows or not
    assert set(exported_keys(ws.root / "exports-out").values()) == {1}
    assert set(exported_keys(ws.root / "exports-out")) == expected_facets(ws.records())
