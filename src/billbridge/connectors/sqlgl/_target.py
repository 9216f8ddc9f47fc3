"""The SQL ledger target: each write inserts journal rows inside one open transaction.

Exactly-once without a file offset: `flush` commits the ledger transaction and returns
the highest `journal.id`, which the engine stores with the batch. A kill before `flush`
rolls the ledger transaction back (nothing half-written); a kill after it leaves rows
with ids past the committed position, which `recover` returns by their idempotency key.
The unique constraint on `journal.idempotency_key` is the last guard: an insert that
meets an existing key keeps the existing row (`ON CONFLICT DO NOTHING`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Final

import orjson
import psycopg
import psycopg.errors

from billbridge.connectors.base import (
    FatalError,
    LedgerLeg,
    LedgerPosting,
    RecordError,
    Recovered,
    RetryableError,
    Written,
)
from billbridge.domain import JournalEntry

from ._db import Database, connect
from ._pg_writer import PostgresJournal

__all__ = ["SqlLedgerTarget", "render"]

_CHUNK: Final = 500
# PostgreSQL advisory lock (this id, the schema's hash): one writer per ledger schema
_LOCK_ID: Final = zlib.crc32(b"billbridge-sqlgl") & 0x7FFFFFFF
_PAGE: Final = 5_000  # journal rows read at once when the ledger is read back


# What the database says about one row: a value it cannot hold, or a constraint or a
# trigger of the user's (CHECK, UNIQUE, a PL/pgSQL RAISE) that refuses it.
_REFUSED: Final = (
    sqlite3.DataError,
    sqlite3.IntegrityError,
    psycopg.DataError,
    psycopg.IntegrityError,
    psycopg.errors.RaiseException,
)


@contextlib.contextmanager
def _db_errors(action: str) -> Iterator[None]:
    """Database errors at the edge: a lock or lost connection retries, a row the database
    refuses (a bad value, a constraint or trigger on the user's table) fails only its
    record, anything else (a missing table, no permission) stops the run."""
    try:
        yield
    except (sqlite3.OperationalError, psycopg.OperationalError) as exc:
        reason = " ".join(str(exc).split())
        raise RetryableError(f"SQL ledger: cannot {action}: {reason}") from exc
    except _REFUSED as exc:
        reason = " ".join(str(exc).split())
        raise RecordError(
            f"SQL ledger: cannot {action} this entry, the database refused it: {reason}"
        ) from exc
    except (sqlite3.Error, psycopg.Error) as exc:
        reason = " ".join(str(exc).split())
        raise FatalError(f"SQL ledger: cannot {action}: {reason}") from exc


def _ref(journal_id: int) -> str:
    return f"journal:{journal_id}"


def render(entries: Sequence[JournalEntry]) -> str:
    """The rows `write` would insert, as a readable block (for --dry-run)."""
    out: list[str] = []
    for entry in entries:
        out.append(
            f"journal {entry.key} {entry.date.isoformat()} {entry.narration!r} "
            f"(record {entry.source}, entity {entry.entity})"
        )
        for number, posting in enumerate(entry.postings, 1):
            amount = posting.amount
            out.append(f"  line {number}: {posting.account} {amount.amount:f} {amount.currency}")
    return "\n".join(out) + ("\n" if out else "")


class SqlLedgerTarget:
    """Journal entries as `journal` + `journal_line` rows in the database at `url`."""

    # a failed write is rolled back to its savepoint; rows are durable only at `flush`
    all_or_nothing = True

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.db: Database = connect(url)
        # PostgreSQL: one statement per record, no savepoint (_pg_writer.py)
        self._journal = PostgresJournal(self.db.conn) if self.db.dialect == "postgres" else None
        self._last_id = 0
        self._broken = ""  # set when a failed write took the open transaction with it
        try:
            self._lock()
        except BaseException:
            self.db.close()
            raise

    def _lock(self) -> None:
        if self.db.dialect != "postgres":
            return  # SQLite: BEGIN IMMEDIATE in `write` holds the file's write lock
        with _db_errors("lock the ledger"):
            row = self.db.execute(
                "SELECT pg_try_advisory_lock(?, hashtext(current_schema()))", (_LOCK_ID,)
            ).fetchone()
            self.db.commit()
        if not row[0]:
            raise RetryableError(
                f"the SQL ledger {self.name!r} is being written by another billbridge process; "
                "it is retried when that process finishes"
            )

    # -- the TargetConnector protocol ----------------------------------------------------

    def render(self, entries: Sequence[JournalEntry]) -> str:
        return render(entries)

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        """Insert one record's entries in the open ledger transaction (durable at `flush`)."""
        if self._broken:
            raise FatalError(self._broken)
        refs: list[str] = []
        last = self._last_id
        if self._journal is not None:
            try:
                with _db_errors("write"):
                    for ident, inserted in self._journal.write(entries):
                        refs.append(_ref(ident))
                        if inserted:
                            self._last_id = max(self._last_id, ident)
            except FatalError as exc:
                self._broken = str(exc)
                raise
            return Written(ref=", ".join(refs), position=self._last_id)
        with _db_errors("write"):
            if not self.db.in_transaction():
                self.db.begin()
            self.db.execute("SAVEPOINT billbridge_write")
        try:
            with _db_errors("write"):
                refs.extend(_ref(self._insert(entry)) for entry in entries)
                self.db.execute("RELEASE SAVEPOINT billbridge_write")
        except BaseException:
            self._undo(last)
            raise
        return Written(ref=", ".join(refs), position=self._last_id)

    def _undo(self, last: int) -> None:
        """After a failed write: undo only this record's rows (the savepoint); the batch's
        earlier writes stay in the transaction. A lost transaction breaks the target."""
        self._last_id = last
        try:
            self.db.execute("ROLLBACK TO SAVEPOINT billbridge_write")
            self.db.execute("RELEASE SAVEPOINT billbridge_write")
        except (sqlite3.Error, psycopg.Error) as exc:
            self._broken = (
                f"SQL ledger {self.name!r}: the open transaction was lost ({exc}); "
                "this run stops and the next one writes the batch again"
            )
            raise FatalError(self._broken) from exc

    def _insert(self, entry: JournalEntry) -> int:
        meta = orjson.dumps(dict(entry.meta)).decode()
        row = self.db.execute(
            "INSERT INTO journal (idempotency_key, record_key, source_version, entity, "
            "entry_date, narration, payee, links, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            (
                entry.key,
                entry.source,
                entry.version,
                entry.entity,
                entry.date.isoformat(),
                entry.narration,
                entry.payee,
                " ".join(entry.links),
                meta,
            ),
        ).fetchone()
        if row is None:  # already in the ledger: keep that row, write no second one
            existing = self.db.execute(
                "SELECT id FROM journal WHERE idempotency_key = ?", (entry.key,)
            ).fetchone()
            return int(existing[0])
        journal_id = int(row[0])
        self._last_id = max(self._last_id, journal_id)
        cursor = self.db.conn.cursor()
        cursor.executemany(
            self.db.q(
                "INSERT INTO journal_line (journal_id, line_no, account, currency, amount, memo) "
                "VALUES (?, ?, ?, ?, ?, ?)"
            ),
            [
                (
                    journal_id,
                    number,
                    p.account,
                    p.amount.currency,
                    # exact decimal text; NUMERIC in PostgreSQL parses it without float
                    f"{p.amount.amount:f}",
                    p.memo,
                )
                for number, p in enumerate(entry.postings, 1)
            ],
        )
        return journal_id

    def flush(self) -> int:
        """Commit the ledger transaction; return the highest journal id (the position)."""
        if self._broken:
            raise FatalError(self._broken)
        try:
            with _db_errors("commit"):
                if self.db.in_transaction():
                    self.db.commit()
                row = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM journal").fetchone()
                if self.db.in_transaction():
                    self.db.commit()
        finally:
            self._ended()
        self._last_id = int(row[0])
        return self._last_id

    def recover(self, committed_position: int) -> Mapping[str, Recovered]:
        """Every journal row with an id past the committed one, with its lines."""
        if committed_position < 0:
            raise ValueError(f"committed_position must not be negative: {committed_position}")
        with _db_errors("read"):
            if self.db.in_transaction():
                self.db.rollback()  # writes never flushed were never posted
            self._ended()
            rows = self.db.execute(
                "SELECT j.id, j.idempotency_key, j.entry_date, j.source_version, "
                "l.account, l.currency, l.amount FROM journal j "
                "LEFT JOIN journal_line l ON l.journal_id = j.id "
                "WHERE j.id > ? ORDER BY j.id, l.line_no",
                (committed_position,),
            ).fetchall()
            self.db.commit()
        found: dict[str, Recovered] = {}
        legs: dict[str, list[LedgerLeg]] = {}
        for ident, key, day, version, account, currency, amount in rows:
            idem = str(key)
            if idem not in found:
                legs[idem] = []
                found[idem] = Recovered(
                    ref=_ref(int(ident)),
                    date=day if isinstance(day, date) else date.fromisoformat(str(day)),
                    legs=(),
                    version=str(version),
                )
            if account is not None:
                legs[idem].append(
                    LedgerLeg(
                        account=str(account),
                        amount=Decimal(str(amount)),
                        currency=str(currency).strip(),
                    )
                )
        return {key: replace(item, legs=tuple(legs[key])) for key, item in found.items()}

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        found: dict[str, str] = {}
        keys = list(dict.fromkeys(idempotency_keys))
        with _db_errors("read"):
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ", ".join("?" for _ in chunk)
                rows = self.db.execute(
                    f"SELECT idempotency_key, id FROM journal WHERE idempotency_key IN ({marks})",
                    chunk,
                ).fetchall()
                found.update({str(key): _ref(int(ident)) for key, ident in rows})
        return found

    def ledger_postings(self) -> Iterator[LedgerPosting]:
        """The `LedgerReader` protocol: every journal row with its lines, as stored now.

        Read a page of journal rows at a time (in id order), so that reconciling a large
        ledger holds one page, not the whole journal.
        """
        last = 0
        while True:
            with _db_errors("read"):
                was_open = self.db.in_transaction()
                rows = self.db.execute(
                    "SELECT j.id, j.idempotency_key, j.record_key, j.entry_date, j.links, "
                    "l.account, l.currency, l.amount FROM "
                    "(SELECT * FROM journal WHERE id > ? ORDER BY id LIMIT ?) j "
                    "LEFT JOIN journal_line l ON l.journal_id = j.id ORDER BY j.id, l.line_no",
                    (last, _PAGE),
                ).fetchall()
                if not was_open and self.db.in_transaction():
                    self.db.commit()
            if not rows:
                return
            yield from _postings(rows)
            last = int(rows[-1][0])

    def close(self) -> None:
        """Roll back anything not flushed (never posted) and release the connection."""
        with contextlib.suppress(sqlite3.Error, psycopg.Error):
            self._ended()
            if self.db.in_transaction():
                self.db.rollback()
        with contextlib.suppress(sqlite3.Error, psycopg.Error):
            self.db.close()

    def _ended(self) -> None:
        if self._journal is not None:
            self._journal.ended()


def _postings(rows: Sequence[Any]) -> Iterator[LedgerPosting]:
    """Journal rows joined with their lines (in id, line order) as postings."""
    current: list[Any] = []
    legs: list[LedgerLeg] = []
    for ident, idem, record, day, links, account, currency, amount in rows:
        if current and current[0] != ident:
            yield _posting(current, legs)
            legs = []
        current = [ident, idem, record, day, links]
        if account is not None:
            legs.append(
                LedgerLeg(
                    account=str(account),
                    amount=Decimal(str(amount)),
                    currency=str(currency).strip(),
                )
            )
    if current:
        yield _posting(current, legs)


def _posting(row: list[Any], legs: list[LedgerLeg]) -> LedgerPosting:
    ident, idem, record, day, links = row
    return LedgerPosting(
        idempotency_key=str(idem),
        record_key=str(record),
        ref=_ref(int(ident)),
        date=day if isinstance(day, date) else date.fromisoformat(str(day)),
        links=tuple(str(links).split()),
        legs=tuple(legs),
    )
