"""Read the SQL ledger back: balances and posting counts, for tests and `books check`.

Why sums in Python: SQLite keeps amounts as exact decimal text, and SQLite's SUM would
turn them into floats; summing `Decimal`s keeps both dialects exact and identical.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from ._db import connect

__all__ = ["balances", "posted_keys", "record_counts"]


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
