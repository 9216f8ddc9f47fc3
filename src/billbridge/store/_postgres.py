"""The shared backend: PostgreSQL through psycopg 3, for several workers on several machines.

Why one connection in autocommit mode with explicit `transaction()` blocks: every write
is one short transaction we open on purpose, and reads never leave an idle transaction
holding snapshots. Writers of the audit chain take `pg_advisory_xact_lock(CHAIN_LOCK)`
before reading the chain head, so two workers can never link rows onto the same head
(fork the chain); the lock is released at commit or rollback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import pq, sql

from ._common import SqlStore, Tx, redact_url
from .base import StoreError

__all__ = ["CHAIN_LOCK", "PostgresStore"]

CHAIN_LOCK = 0x6262_6175_6469_74  # "bbaudit": the advisory lock key of the audit chain
CONNECT_TIMEOUT_S = 10
BULK_MIN_ROWS = 2  # below this, a plain execute is as cheap as building arrays
_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def split_schema(url: str) -> tuple[str, str | None]:
    """Take billbridge's own `schema` parameter out of the URL (libpq rejects it)."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in params if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in params if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


_ERASED_TABLES = (
    "records", "flow_records", "outcomes", "exceptions", "postings", "stripe_inbox",
    "writebacks", "field_bases", "field_conflicts", "notifications", "alert_incidents",
    "discrepancies", "subject_salts",
)  # fmt: skip


class PostgresStore(SqlStore):
    """`Store` on PostgreSQL; opening applies any pending migrations (under the lock)."""

    dialect: ClassVar[str] = "postgres"
    _no_limit: ClassVar[int | None] = None
    _codepoint_order: ClassVar[bool] = True  # invoice_numbers.number is COLLATE "C" (0120)
    _driver_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error,)
    _migrating = False

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = redact_url(url)
        conninfo, schema = split_schema(url)
        if schema is not None and not _SCHEMA.match(schema):
            raise StoreError(f"bad schema name {schema!r} in {self.url} (letters, digits, _)")
        self.schema = schema
        parts = urlsplit(url)
        query_password = dict(parse_qsl(parts.query)).get("password")
        self._secrets = tuple(s for s in (parts.password, query_password) if s)
        self._conninfo = conninfo
        with self._guard(f"connect to {self.url}"):
            self._conn = self._connect()
        self._opened(self._setup)

    def _connect(self) -> Any:
        return psycopg.connect(self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    def _interrupted(self) -> None:
        """Ctrl-C inside a psycopg call can leave the connection in the middle of a command
        ("another command is already in progress"), and then even finishing the run as
        failed fails. Only such a connection is replaced: an idle one, or one inside a
        transaction whose own block rolls it back, is kept. Never raises: the interrupt
        itself goes on."""
        status = self._conn.info.transaction_status
        busy = (pq.TransactionStatus.ACTIVE, pq.TransactionStatus.UNKNOWN)
        if not self._conn.closed and status not in busy:
            return  # idle, or a transaction its own block rolls back: keep it
        try:
            self._conn.close()
            self._conn = self._connect()
            self._setup()
        except Exception:  # the next run marks this one crashed instead
            return

    def _setup(self) -> None:
        with self._guard(f"prepare {self.url}"):
            self._conn.execute("SET TIME ZONE 'UTC'")
            if self.schema is not None:
                name = sql.Identifier(self.schema)
                self._conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                self._conn.execute(sql.SQL("SET search_path TO {}").format(name))

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    def reusable(self) -> bool:
        """Connected, and no transaction left open: safe to hand to the next request."""
        info = self._conn.info
        return not self._conn.closed and info.transaction_status == pq.TransactionStatus.IDLE

    @contextmanager
    def _write(self, *, lock: bool = False) -> Iterator[Tx]:
        # Pipeline mode sends a batch's statements without waiting for each reply, so
        # building the next statement overlaps the server running the previous one.
        # Migration scripts (several statements in one string) cannot run pipelined.
        pipeline = nullcontext() if self._migrating else self._conn.pipeline()
        with pipeline, self._conn.transaction(), self._conn.cursor() as cur:
            if lock:
                cur.execute(self._q["lock_chain"], (CHAIN_LOCK,))
            yield cur

    def _migrate(self) -> None:
        self._migrating = True
        try:
            super()._migrate()
        finally:
            self._migrating = False

    def _bulk(self, tx: Tx, name: str, rows: list[tuple[Any, ...]]) -> None:
        """One `INSERT … SELECT * FROM unnest(arrays)` per table when a bulk form exists.

        Why not executemany: even pipelined, it costs a statement per row; with columns
        sent as arrays a batch of 1000 records is four statements (see queries.sql).
        """
        bulk = self._q.get(f"{name}_bulk")
        if bulk is None or len(rows) < BULK_MIN_ROWS:
            super()._bulk(tx, name, rows)
        else:
            tx.execute(bulk, [list(column) for column in zip(*rows, strict=True)])

    def _run_script(self, tx: Tx, script: str) -> None:
        # No parameters: psycopg sends it with the simple protocol, several statements at once.
        tx.execute(script)

    def _ts(self, at: datetime) -> datetime:
        return self._aware(at)

    def _dt(self, value: Any) -> datetime:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise StoreError(f"expected a timestamptz from PostgreSQL, got {value!r}")
        return value.astimezone(UTC)

    def _keys(self, keys: Sequence[str]) -> list[str]:
        return list(keys)

    def _secure_delete(self) -> None:
        """Nothing to set: `compact` rewrites the tables afterwards."""

    def compact(self) -> None:
        """Rewrite the tables an erasure changed (VACUUM FULL), so no dead row version
        with the old text stays in them (autocommit: VACUUM runs outside a transaction)."""
        with self._guard("compact after erasure"):
            for table in _ERASED_TABLES:
                self._conn.execute(sql.SQL("VACUUM FULL {}").format(sql.Identifier(table)))
