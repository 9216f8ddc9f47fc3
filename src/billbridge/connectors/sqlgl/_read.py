"""Read the SQL ledger back: balances and posting counts, for tests and `books check`.

Why sums in Python: SQLite keeps amounts as exact decimal text, and SQLite's SUM would
turn them into floats; summing `Decimal`s keeps both dialects exact and identical.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal

from ._db import connect

__all__ = ["balances", "ledger_lines", "posted_keys", "record_counts"]


def balances(url: str) -> dict[tuple[str, str], Decimal]:
    """(account, currency) → balance over every journal line."""
    db = connect(url)
    try:
        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        rows = db.execute("SELECT account, currency, amount FROM journal_line").fetchall()
        for account, currency, amount in rows:
            totals[str(account), str(currency).strip()] += Decimal(str(amount))
        db.commit()
        return dict(totals)
    finally:
        db.close()


def posted_keys(url: str) -> Counter[str]:
    """How many journal rows carry each idempotency key (exactly-once checks)."""
    db = connect(url)
    try:
        rows = db.execute(
            "SELECT idempotency_key, COUNT(*) FROM journal GROUP BY idempotency_key"
        ).fetchall()
        db.commit()
        return Counter({str(key): int(n) for key, n in rows})
    finally:
        db.close()


def record_counts(url: str) -> Counter[str]:
    """How many journal rows each source record key has (all facets together)."""
    db = connect(url)
    try:
        rows = db.execute("SELECT record_key, COUNT(*) FROM journal GROUP BY record_key").fetchall()
        db.commit()
        return Counter({str(key): int(n) for key, n in rows})
    finally:
        db.close()


_LINES_SQL = (
    "SELECT j.id, j.idempotency_key, j.record_key, l.account, l.currency, l.amount "
    "FROM journal_line l JOIN journal j ON j.id = l.journal_id ORDER BY j.id, l.line_no"
)
_PAGE = 5_000  # journal lines fetched at once by `ledger_lines`


def ledger_lines(url: str) -> Iterator[tuple[str, str, str, str, str, Decimal]]:
    """(entry id, idempotency key, record key, account, currency, amount) per journal line.

    Read in pages of `_PAGE` lines from one query, so `books check` over a large ledger
    holds a page at a time, not every line (fetching them all was 303 MB at 100k
    entries). One query is one snapshot: on PostgreSQL it is a server-side cursor in one
    transaction, on SQLite the statement's own read transaction, so a sync writing
    meanwhile never shows half an entry.
    """
    db = connect(url)
    try:
        if db.dialect == "postgres":
            cursor = db.conn.cursor(name="billbridge_ledger_lines")
            cursor.execute(_LINES_SQL)
        else:
            cursor = db.execute(_LINES_SQL)
        while rows := cursor.fetchmany(_PAGE):
            for ident, idem, record, account, currency, amount in rows:
                yield (
                    f"journal:{ident}",
                    str(idem),
                    str(record),
                    str(account),
                    str(currency).strip(),
                    Decimal(str(amount)),
                )
        cursor.close()
        db.commit()
    finally:
        db.close()
