"""Erase a person's name and e-mail from the SQL ledger's `journal` and `journal_line` texts.

Why here and not by hand: the narrations billbridge writes read "Invoice HB-0042 — Globex
Corp", so a GDPR erasure that left the SQL ledger alone would leave the person's name in
the books' database. Only the texts billbridge wrote are touched (payee, narration, line
memo); accounts, amounts, dates, keys and links stay, so the balances do not move. The
stand-in is the one the Beancount file gets (`domain.same_length`), so the same person
reads the same in every ledger. One transaction: all texts change, or none. On SQLite the
old texts are zeroed in the file and checkpointed out of the WAL; on PostgreSQL the two
tables are rewritten (VACUUM FULL) so no dead row version keeps them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

import psycopg

from billbridge.connectors.base import RetryableError
from billbridge.domain import same_length

from ._db import connect

__all__ = ["scrub_journal"]

_TEXTS: Final = (("journal", "payee"), ("journal", "narration"), ("journal_line", "memo"))


def scrub_journal(url: str, texts: Sequence[tuple[str, str]]) -> int:
    """Replace each (personal text, subject key) in the ledger's texts; return rows changed."""
    wanted = [(text, subject) for text, subject in texts if text]
    if not wanted:
        return 0
    db = connect(url)
    found = "strpos({c}, ?) > 0" if db.dialect == "postgres" else "instr({c}, ?) > 0"
    try:
        if db.dialect == "sqlite":  # overwritten pages are zeroed, not left on the free list
            db.execute("PRAGMA secure_delete=ON")
        db.begin()
        changed = 0
        for text, subject in wanted:
            stand_in = same_length(subject, text)
            for table, column in _TEXTS:
                where = found.format(c=column)  # table and column come from _TEXTS only
                cursor = db.execute(
                    f"UPDATE {table} SET {column} = replace({column}, ?, ?) WHERE {where}",
                    (text, stand_in, text),
                )
                changed += max(cursor.rowcount, 0)
        db.commit()
        if db.dialect == "sqlite":  # the old texts leave the WAL file too
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif changed:  # the old row versions stay on disk until the tables are rewritten
            db.conn.autocommit = True
            for table in ("journal", "journal_line"):
                db.execute(f"VACUUM FULL {table}")
    except (sqlite3.OperationalError, psycopg.OperationalError) as exc:
        db.rollback()
        raise RetryableError(f"the SQL ledger is busy or unreachable ({exc}); erase again") from exc
    except Exception:
        db.rollback()
        raise
    finally:
        db.close()
    return changed
