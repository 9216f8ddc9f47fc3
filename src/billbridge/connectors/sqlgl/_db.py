"""One DB-API connection to the ledger database, SQLite or PostgreSQL, with its DDL.

Why not the state store's classes: connectors never import `store`, and the ledger may
live in a database of the user's accounting team, next to their own tables. The two
dialects differ only in placeholders, the id column and the amount type, so one small
wrapper holds both.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from billbridge.connectors.base import FatalError, RetryableError

__all__ = ["DDL", "Database", "connect"]

_SCHEMA_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DDL: Final[dict[str, tuple[str, ...]]] = {
    "sqlite": (
        """CREATE TABLE IF NOT EXISTS journal (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            idempotency_key TEXT NOT NULL,
            record_key TEXT NOT NULL,
            source_version TEXT NOT NULL,
            entity TEXT NOT NULL,
            entry_date TEXT NOT NULL,
            narration TEXT NOT NULL,
            payee TEXT NOT NULL,
            links TEXT NOT NULL,
            meta TEXT NOT NULL,
            posted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            CONSTRAINT journal_idempotency_key_unique UNIQUE (idempotency_key)
        )""",
        "CREATE INDEX IF NOT EXISTS journal_record_key ON journal (record_key)",
        """CREATE TABLE IF NOT EXISTS journal_line (
            journal_id INTEGER NOT NULL REFERENCES journal (id),
            line_no INTEGER NOT NULL,
            account TEXT NOT NULL,
            currency TEXT NOT NULL CHECK (length(currency) = 3),
            amount TEXT NOT NULL,
            memo TEXT NOT NULL,
            PRIMARY KEY (journal_id, line_no)
        )""",
        "CREATE INDEX IF NOT EXISTS journal_line_account ON journal_line (account, currency)",
    ),
    "postgres": (
        """CREATE TABLE IF NOT EXISTS journal (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            idempotency_key TEXT NOT NULL,
            record_key TEXT NOT NULL,
            source_version TEXT NOT NULL,
            entity TEXT NOT NULL,
            entry_date DATE NOT NULL,
            narration TEXT NOT NULL,
            payee TEXT NOT NULL,
            links TEXT NOT NULL,
            meta JSONB NOT NULL,
            posted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            CONSTRAINT journal_idempotency_key_unique UNIQUE (idempotency_key)
        )""",
        "CREATE INDEX IF NOT EXISTS journal_record_key ON journal (record_key)",
        """CREATE TABLE IF NOT EXISTS journal_line (
            journal_id BIGINT NOT NULL REFERENCES journal (id),
            line_no INTEGER NOT NULL,
            account TEXT NOT NULL,
            currency CHAR(3) NOT NULL,
            amount NUMERIC NOT NULL,
            memo TEXT NOT NULL,
            PRIMARY KEY (journal_id, line_no)
        )""",
        "CREATE INDEX IF NOT EXISTS journal_line_account ON journal_line (account, currency)",
    ),
}


@dataclass
class Database:
    """A connection in explicit-transaction mode; `q` rewrites `?` placeholders per dialect."""

    url: str
    dialect: str
    conn: Any

    def q(self, text: str) -> str:
        return text.replace("?", "%s") if self.dialect == "postgres" else text

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self.q(text), tuple(params))

    def begin(self) -> None:
        """Start a write transaction (SQLite: take the write lock now, not at first insert)."""
        if self.dialect == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")

    def in_transaction(self) -> bool:
        if self.dialect == "sqlite":
            return bool(self.conn.in_transaction)
        status = self.conn.info.transaction_status
        return bool(status != psycopg.pq.TransactionStatus.IDLE)

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def _split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    params = parse_qsl(parts.query)
    schema = next((v for k, v in params if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in params if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def connect(url: str) -> Database:
    """Open `sqlite:///path` or `postgresql://…[?schema=name]` and create the tables.

    A database that cannot be reached is a `RetryableError` (the run queues and retries);
    a URL of another kind is a `FatalError` naming the accepted forms.
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn: Any = sqlite3.connect(path, isolation_level=None, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise RetryableError(f"cannot open the SQL ledger {path}: {exc}") from exc
        db = Database(url=url, dialect="sqlite", conn=conn)
    elif url.startswith(("postgresql://", "postgres://")):
        conninfo, schema = _split_schema(url)
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise FatalError(
                f"bad schema name {schema!r} in the SQL ledger URL (letters, digits, _)"
            )
        try:
            conn = psycopg.connect(conninfo, connect_timeout=10)
            if schema is not None:
                name = sql.Identifier(schema)
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                conn.execute(sql.SQL("SET search_path TO {}").format(name))
                conn.commit()
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split())
            raise RetryableError(f"cannot reach the SQL ledger database: {reason}") from exc
        db = Database(url=url, dialect="postgres", conn=conn)
    else:
        raise FatalError(
            "the SQL ledger `url` must start with sqlite:/// or postgresql:// "
            f"(got {url.split('://', 1)[0]!r}://…)"
        )
    _create_tables(db)
    return db


def _create_tables(db: Database) -> None:
    db.begin()
    try:
        for statement in DDL[db.dialect]:
            db.execute(statement)
        db.commit()
    except Exception:
        db.rollback()
        raise
