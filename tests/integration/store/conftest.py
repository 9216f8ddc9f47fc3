"""The `store` fixture (every store test runs on SQLite and on PostgreSQL) and raw access.

Raw access goes around the store on purpose: to prove the database itself refuses
edits to the audit log, and to tamper with it the way an attacker with DB access could.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from billbridge.store import Store, open_store
from billbridge.store._postgres import PostgresStore, split_schema
from billbridge.store._sqlite import SQLiteStore

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """A fixed, zoned time `minutes` after T0 (tests never depend on the clock)."""
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


@contextmanager
def raw(store: Store) -> Iterator[Any]:
    """A driver connection to the same database, in autocommit mode, outside the store."""
    if isinstance(store, SQLiteStore):
        conn = sqlite3.connect(store.path, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()
    elif isinstance(store, PostgresStore):
        conninfo, schema = split_schema(store.url)
        with psycopg.connect(conninfo, autocommit=True) as pg:
            pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema or "public")))
            yield pg
    else:  # pragma: no cover
        raise TypeError(store)


def driver_error(store: Store) -> type[Exception]:
    return sqlite3.Error if isinstance(store, SQLiteStore) else psycopg.Error
