"""Writing journal entries to PostgreSQL: one statement, one round trip per record.

Why no savepoint per record: a savepoint and its release cost two more statements and
most of the server's time per record, only to survive the rare row the database refuses
(a CHECK or a trigger of the accounting team's). Here the happy path is one statement per
entry, in the open ledger transaction; when one is refused, the transaction is rolled
back and the batch's earlier records are written again, with the ids they were given
(ids are taken from the table's own sequence ahead of the insert, so a replayed row keeps
the `journal:<id>` ref the engine recorded). Then only the refused record fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
import psycopg

from billbridge.connectors.base import FatalError
from billbridge.domain import JournalEntry

__all__ = ["PostgresJournal"]

_RESERVE: Final = 256  # ids taken from the sequence per round trip

_NEXT_IDS: Final = (
    "SELECT nextval(pg_get_serial_sequence('journal', 'id')) FROM generate_series(1, %s)"
)

# One entry in one statement: the journal row (with its id given), its lines from JSON,
# and the row's id, or the id of the row that already holds the key (then no line is added).
_INSERT_ENTRY: Final = """
WITH new AS (
    INSERT INTO journal (id, idempotency_key, record_key, source_version, entity, entry_date,
                         narration, payee, links, meta)
    OVERRIDING SYSTEM VALUE
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), lines AS (
    INSERT INTO journal_line (journal_id, line_no, account, currency, amount, memo)
    SELECT new.id, line.line_no, line.account, line.currency, line.amount, line.memo
    FROM new, json_to_recordset(%s::json)
        AS line (line_no integer, account text, currency text, amount numeric, memo text)
)
SELECT id, true FROM new
UNION ALL
SELECT id, false FROM journal WHERE idempotency_key = %s AND NOT EXISTS (SELECT FROM new)
"""


class PostgresJournal:
    """The statements of the open ledger transaction, kept until it commits."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._cursor = conn.cursor()  # one cursor for every single-entry write
        self._ids: list[int] = []  # reserved, unused; handed out from the end
        self._written: list[tuple[Any, ...]] = []  # parameters of this transaction's writes

    def write(self, entries: Sequence[JournalEntry]) -> list[tuple[int, bool]]:
        """(journal id, whether this write inserted it) per entry.

        A psycopg error (the database refused a row) leaves the transaction as it was
        before this call and is raised as it came; a transaction that cannot be rebuilt
        is a `FatalError`.
        """
        params = [self._params(entry) for entry in entries]
        try:
            if len(params) == 1:
                found = [self._cursor.execute(_INSERT_ENTRY, params[0]).fetchone()]
            else:
                with self.conn.pipeline():
                    cursors = [self.conn.execute(_INSERT_ENTRY, p) for p in params]
                found = [cursor.fetchone() for cursor in cursors]
        except psycopg.Error:
            self._rebuild()
            raise
        self._written.extend(params)
        out = []
        for row in found:
            if row is None:  # the statement always answers one row
                raise FatalError("SQL ledger: an insert gave no journal id back")
            out.append((int(row[0]), bool(row[1])))
        return out

    def _params(self, entry: JournalEntry) -> tuple[Any, ...]:
        if not self._ids:
            rows = self.conn.execute(_NEXT_IDS, (_RESERVE,)).fetchall()
            self._ids = sorted((int(r[0]) for r in rows), reverse=True)
        postings = entry.postings
        return (
            self._ids.pop(),
            entry.key,
            entry.source,
            entry.version,
            entry.entity,
            entry.date.isoformat(),
            entry.narration,
            entry.payee,
            " ".join(entry.links),
            orjson.dumps(dict(entry.meta)).decode(),
            # the lines as one JSON text: psycopg builds arrays in Python, at ~40 µs each
            orjson.dumps(
                [
                    {
                        "line_no": number,
                        "account": p.account,
                        "currency": p.amount.currency,
                        "amount": f"{p.amount.amount:f}",  # exact text; NUMERIC parses it
                        "memo": p.memo,
                    }
                    for number, p in enumerate(postings, 1)
                ]
            ).decode(),
            entry.key,
        )

    def _rebuild(self) -> None:
        """Roll the transaction back and write this transaction's earlier records again."""
        try:
            self.conn.rollback()
            if self._written:
                with self.conn.pipeline(), self.conn.cursor() as cursor:
                    cursor.executemany(_INSERT_ENTRY, self._written)
        except psycopg.Error as exc:
            self._written.clear()
            raise FatalError(
                f"SQL ledger: the open transaction was lost and could not be rebuilt ({exc}); "
                "this run stops and the next one writes the batch again"
            ) from exc

    def ended(self) -> None:
        """The transaction committed or rolled back: nothing of it is replayed any more."""
        self._written.clear()
