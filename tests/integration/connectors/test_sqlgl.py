"""The SQL ledger target against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.connectors.base import RetryableError
from billbridge.connectors.sqlgl import (
    SqlLedgerTarget,
    balances,
    connect,
    posted_keys,
    scrub_journal,
)
from billbridge.domain import JournalEntry, Money, Posting, same_length


def entry(key: str, amount: str = "119.00", currency: str = "EUR", memo: str = "") -> JournalEntry:
    total = Decimal(amount)
    tax = (total * 19 / 119).quantize(Decimal("1" if currency == "JPY" else "0.01"))
    return JournalEntry(
        date=date(2024, 3, 1),
        narration="Invoice HB-0042 — Globex Corp",
        payee="Globex Corp",
        key=f"flow|stripe:invoice:{key}|issue",
        source=f"stripe:invoice:{key}",
        version="v1",
        links=(key,),
        meta=(("invoice-number", "HB-0042"),),
        postings=(
            Posting(account="Assets:Receivable:Stripe", amount=Money(total, currency)),
            Posting(
                account="Income:Sales:Pro",
                amount=Money(-(total - tax), currency),
                memo=memo,
            ),
            Posting(account="Liabilities:Tax:DE-19", amount=Money(-tax, currency)),
        ),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gl' / 'ledger.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def target(url: str) -> Iterator[SqlLedgerTarget]:
    t = SqlLedgerTarget("gl", url)
    yield t
    t.close()


def test_flushed_entries_have_exact_balances_and_one_row_per_key(
    url: str, target: SqlLedgerTarget
) -> None:
    target.write([entry("in_1")])
    target.write([entry("in_2", "0.30", memo="a 'quoted'\nmemo")])
    target.write([entry("in_3", "1190", currency="JPY")])
    position = target.flush()
    assert position == 3
    totals = balances(url)
    assert totals[("Assets:Receivable:Stripe", "EUR")] == Decimal("119.30")
    assert totals[("Liabilities:Tax:DE-19", "EUR")] == Decimal("-19.05")
    assert totals[("Income:Sales:Pro", "JPY")] == Decimal("-1000")
    assert sum(v for (_, cur), v in totals.items() if cur == "EUR") == 0
    assert set(posted_keys(url).values()) == {1}
    db = connect(url)
    memo = db.execute("SELECT memo FROM journal_line WHERE line_no = 2 AND amount = ?", ("-0.25",))
    assert memo.fetchone()[0] == "a 'quoted'\nmemo"
    db.close()


def test_unflushed_writes_are_rolled_back_on_close(url: str) -> None:
    first = SqlLedgerTarget("gl", url)
    first.write([entry("in_1")])
    first.close()
    assert posted_keys(url) == {}


def test_recover_returns_only_rows_past_the_committed_position(
    url: str, target: SqlLedgerTarget
) -> None:
    target.write([entry("in_1")])
    committed = target.flush()
    target.write([entry("in_2")])
    target.write([entry("in_3")])
    target.flush()  # the ledger committed, the state store did not (a kill here)
    target.write([entry("in_4")])  # never flushed: rolled back by recover
    found = target.recover(committed)
    assert set(found) == {"flow|stripe:invoice:in_2|issue", "flow|stripe:invoice:in_3|issue"}
    assert found["flow|stripe:invoice:in_2|issue"].ref == "journal:2"
    assert "flow|stripe:invoice:in_4|issue" not in target.find(["flow|stripe:invoice:in_4|issue"])


def test_a_key_already_in_the_ledger_is_never_inserted_twice(
    url: str, target: SqlLedgerTarget
) -> None:
    first = target.write([entry("in_1")])
    target.flush()
    again = target.write([entry("in_1", "5.00")])
    target.flush()
    assert again.ref == first.ref
    assert posted_keys(url) == {"flow|stripe:invoice:in_1|issue": 1}
    assert balances(url)[("Assets:Receivable:Stripe", "EUR")] == Decimal("119.00")


def test_the_unique_constraint_is_in_the_database(url: str, target: SqlLedgerTarget) -> None:
    target.write([entry("in_1")])
    target.flush()
    db = connect(url)
    db.begin()
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        db.execute(
            "INSERT INTO journal (idempotency_key, record_key, source_version, entity, "
            "entry_date, narration, payee, links, meta) VALUES (?, 'r', 'v', 'e', "
            "'2024-01-01', 'n', '', '', '{}')",
            ("flow|stripe:invoice:in_1|issue",),
        )
    db.rollback()
    db.close()


def test_find_and_render(target: SqlLedgerTarget) -> None:
    target.write([entry("in_1")])
    target.flush()
    keys = ["flow|stripe:invoice:in_1|issue", "flow|stripe:invoice:nope|issue"]
    assert target.find(keys) == {keys[0]: "journal:1"}
    text = target.render([entry("in_9")])
    assert "journal flow|stripe:invoice:in_9|issue 2024-03-01" in text
    assert "line 3: Liabilities:Tax:DE-19 -19.00 EUR" in text


def test_a_second_postgres_writer_is_told_to_retry(pg_url: str) -> None:
    first = SqlLedgerTarget("gl", pg_url)
    try:
        with pytest.raises(RetryableError, match="another billbridge process"):
            SqlLedgerTarget("gl", pg_url)
    finally:
        first.close()


def test_an_unknown_url_scheme_is_fatal_and_names_the_forms() -> None:
    from billbridge.connectors.base import FatalError

    with pytest.raises(FatalError, match=r"sqlite:/// or postgresql://"):
        SqlLedgerTarget("gl", "mysql://x/y")


def test_a_refused_entry_fails_alone_and_the_batch_keeps_the_others(pg_url: str) -> None:
    from billbridge.connectors.base import RecordError

    target = SqlLedgerTarget("gl", pg_url)
    try:
        target.write([entry("in_1")])
        bad = entry("in_2")
        bad = JournalEntry(**{**{f: getattr(bad, f) for f in bad.__slots__}, "narration": "a\x00b"})
        with pytest.raises(RecordError, match="cannot write this entry"):
            target.write([bad])
        target.write([entry("in_3")])
        target.flush()
    finally:
        target.close()
    assert set(posted_keys(pg_url)) == {
        "flow|stripe:invoice:in_1|issue",
        "flow|stripe:invoice:in_3|issue",
    }


def test_ledgers_in_two_schemas_do_not_block_each_other(pg_url: str) -> None:
    other = pg_url.replace("schema=", "schema=x")
    first = SqlLedgerTarget("gl", pg_url)
    try:
        second = SqlLedgerTarget("gl2", other)
        second.close()
    finally:
        first.close()
    import psycopg

    with psycopg.connect(other.split("?")[0], autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {other.split('schema=')[1]} CASCADE")


def test_ledger_postings_read_back_what_was_written(target: SqlLedgerTarget) -> None:
    from billbridge.connectors.base import LedgerReader

    assert isinstance(target, LedgerReader)
    written = [entry("in_1"), entry("in_2", "1190", currency="JPY")]
    for e in written:
        target.write([e])
    target.flush()
    postings = list(target.ledger_postings())
    assert [p.idempotency_key for p in postings] == [e.key for e in written]
    first = postings[0]
    assert first.record_key == "stripe:invoice:in_1" and first.ref == "journal:1"
    assert first.date == date(2024, 3, 1) and first.links == ("in_1",)
    assert [(leg.account, leg.amount, leg.currency) for leg in first.legs] == [
        (p.account, p.amount.amount, p.amount.currency) for p in written[0].postings
    ]


def test_ledger_postings_read_in_pages_lose_and_repeat_nothing(
    target: SqlLedgerTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billbridge.connectors.sqlgl import _target

    written = [entry(f"in_{n}") for n in range(1, 8)]
    for e in written:
        target.write([e])
    target.flush()
    whole = list(target.ledger_postings())
    monkeypatch.setattr(_target, "_PAGE", 3)  # pages of 3, 3 and 1 journal rows
    assert list(target.ledger_postings()) == whole
    assert [p.idempotency_key for p in whole] == [e.key for e in written]
    assert all(len(p.legs) == len(e.postings) for p, e in zip(whole, written, strict=True))


_REFUSALS = {
    "sqlite": (
        (
            "CREATE TRIGGER no_big_sales BEFORE INSERT ON journal_line "
            "WHEN NEW.account = 'Assets:Receivable:Stripe' AND NEW.amount = '500.00' "
            "BEGIN SELECT RAISE(ABORT, 'sales over 499 need a second signature'); END"
        ),
    ),
    "postgres": (
        (
            "ALTER TABLE journal_line ADD CONSTRAINT no_big_sales "
            "CHECK (NOT (account = 'Assets:Receivable:Stripe' AND amount = 500))"
        ),
        (
            "CREATE FUNCTION no_frozen_payee() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF NEW.payee = 'Frozen Ltd' THEN RAISE EXCEPTION 'payee %% is frozen', "
            "NEW.payee; END IF; RETURN NEW; END $$"
        ),
        (
            "CREATE TRIGGER no_frozen_payee BEFORE INSERT ON journal "
            "FOR EACH ROW EXECUTE FUNCTION no_frozen_payee()"
        ),
    ),
}


def test_a_row_a_users_constraint_or_trigger_refuses_fails_only_its_record(url: str) -> None:
    """A CHECK constraint or a trigger the accounting team put on the GL tables refuses one
    row: `RecordError` (that record is queued), never `FatalError` (the run stopping)."""
    from billbridge.connectors.base import RecordError

    target = SqlLedgerTarget("gl", url)
    try:
        db = target.db
        for statement in _REFUSALS[db.dialect]:
            db.execute(statement)
        db.commit()
        target.write([entry("in_1")])
        with pytest.raises(RecordError, match="refused") as refused:
            target.write([entry("in_2", "500.00")])
        assert "second signature" in str(refused.value) or "no_big_sales" in str(refused.value)
        if db.dialect == "postgres":
            frozen = entry("in_4")
            frozen = JournalEntry(
                **{**{f: getattr(frozen, f) for f in frozen.__slots__}, "payee": "Frozen Ltd"}
            )
            with pytest.raises(RecordError, match="payee Frozen Ltd is frozen"):
                target.write([frozen])
        target.write([entry("in_3")])
        target.flush()
    finally:
        target.close()
    assert set(posted_keys(url)) == {
        "flow|stripe:invoice:in_1|issue",
        "flow|stripe:invoice:in_3|issue",
    }


def test_erasure_replaces_a_name_in_every_text_and_keeps_the_balances(
    url: str, target: SqlLedgerTarget, tmp_path: Path
) -> None:
    target.write([entry("in_1", memo="for Globex Corp, Berlin")])
    target.write([entry("in_2", "0.30")])
    target.flush()
    target.close()
    sums = balances(url)

    changed = scrub_journal(url, [("Globex Corp", "crm:customer:1"), ("", "crm:customer:2")])
    assert changed == 5  # two payees, two narrations, one memo

    db = connect(url)
    try:
        texts = db.execute(
            "SELECT payee, narration, memo FROM journal JOIN journal_line "
            "ON journal_line.journal_id = journal.id"
        ).fetchall()
        db.commit()
    finally:
        db.close()
    assert texts and not [t for row in texts for t in row if t and "Globex" in t]
    assert {row[1] for row in texts} == {
        "Invoice HB-0042 — " + same_length("crm:customer:1", "Globex Corp")
    }
    assert balances(url) == sums and posted_keys(url) == Counter(
        {"flow|stripe:invoice:in_1|issue": 1, "flow|stripe:invoice:in_2|issue": 1}
    )
    if url.startswith("sqlite:///"):  # nothing left on disk either, WAL included
        path = Path(url.removeprefix("sqlite:///"))
        wal = path.with_name(path.name + "-wal")
        assert b"Globex" not in path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert scrub_journal(url, [("Globex Corp", "crm:customer:1")]) == 0


def test_a_refusal_keeps_the_earlier_records_of_the_batch_with_their_refs(url: str) -> None:
    """On PostgreSQL a refused row rolls the open transaction back and the batch's earlier
    records are written again (no savepoint per record): with the same journal ids, since
    the engine has recorded them as the postings' refs. A record whose second entry is
    refused keeps neither."""
    from billbridge.connectors.base import RecordError

    target = SqlLedgerTarget("gl", url)
    try:
        db = target.db
        for statement in _REFUSALS[db.dialect]:
            db.execute(statement)
        db.commit()
        first = target.write([entry("in_1")])
        second = target.write([entry("in_2", "0.30")])
        with pytest.raises(RecordError, match="refused"):
            target.write([entry("in_5"), entry("in_6", "500.00")])
        third = target.write([entry("in_3")])
        assert target.find([entry("in_5").key]) == {}
        target.flush()
        postings = {p.idempotency_key: p.ref for p in target.ledger_postings()}
    finally:
        target.close()
    assert postings == {
        entry("in_1").key: first.ref,
        entry("in_2").key: second.ref,
        entry("in_3").key: third.ref,
    }
    assert third.position == int(third.ref.removeprefix("journal:"))
