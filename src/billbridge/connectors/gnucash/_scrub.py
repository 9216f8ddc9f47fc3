"""Erase a person's name and e-mail from the texts billbridge wrote into a GnuCash book.

Why plain SQL and not piecash: erasure changes text columns only (a transaction's
description, a split's memo, a string slot such as notes), never an amount, an account
or a date, so the book's balances and piecash's checks stay as they were; one SQLite
transaction with `secure_delete` replaces every occurrence or none, and zeroes the old
texts on disk. The stand-in is the one the Beancount file gets (`domain.same_length`).
A book open in GnuCash or in a running sync (a live row in `gnclock`) is not touched:
the erasure is retryable, as a write is.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from billbridge.connectors.base import RetryableError
from billbridge.domain import same_length

__all__ = ["scrub_book"]

_TEXTS: Final = (("transactions", "description"), ("splits", "memo"), ("slots", "string_val"))


def _live_locks(db: sqlite3.Connection) -> list[str]:
    """Lock rows of processes that may still hold the book (a dead local pid does not)."""
    host = socket.gethostname()
    held = []
    for row_host, pid in db.execute("SELECT hostname, pid FROM gnclock"):
        if row_host == host:
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
        held.append(f"{row_host} pid {pid}")
    return held


def scrub_book(path: Path, texts: Sequence[tuple[str, str]]) -> int:
    """Replace each (personal text, subject key) in the book's texts; return rows changed."""
    wanted = [(text, subject) for text, subject in texts if text]
    if not wanted or not Path(path).exists():
        return 0
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=10)
    except sqlite3.Error as exc:
        raise RetryableError(f"cannot open the GnuCash book {path}: {exc}") from exc
    try:
        db.execute("PRAGMA secure_delete=ON")  # the old texts are zeroed, not left free
        db.execute("BEGIN IMMEDIATE")
        held = _live_locks(db)
        if held:
            db.rollback()
            raise RetryableError(
                f"the GnuCash book {path} is open in GnuCash or a running sync "
                f"({', '.join(held)}); close it there and erase again"
            )
        changed = 0
        for text, subject in wanted:
            stand_in = same_length(subject, text)
            for table, column in _TEXTS:  # names from _TEXTS only
                cursor = db.execute(
                    f"UPDATE {table} SET {column} = replace({column}, ?, ?) "
                    f"WHERE instr({column}, ?) > 0",
                    (text, stand_in, text),
                )
                changed += max(cursor.rowcount, 0)
        db.commit()
    except sqlite3.OperationalError as exc:
        if db.in_transaction:
            db.rollback()
        raise RetryableError(f"the GnuCash book {path} is busy ({exc}); erase again") from exc
    finally:
        db.close()
    return changed
