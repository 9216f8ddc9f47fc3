"""Migrations build exactly the fresh-install schema (schema.sql), on both backends.

Why: upgrades run the numbered migrations, new installs can be read from schema.sql;
if the two drift apart, old and new workspaces behave differently in ways no other
test would notice. The comparison is structural (columns, indexes, constraints,
triggers), normalised so whitespace, comments and schema names do not count.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from billbridge.store import Store, StoreError, open_store
from billbridge.store._postgres import split_schema
from billbridge.store._queries import migrations, read_sql
from billbridge.store._sqlite import SQLiteStore

from .conftest import raw


def _norm_sql(text: str | None) -> str:
    text = re.sub(r"--[^\n]*", "", text or "")
    text = re.sub(r"\s+", " ", text).strip().lower()
    return text.replace("if not exists ", "").replace("( ", "(").replace(" )", ")")


def sqlite_schema(conn: sqlite3.Connection) -> dict[str, Any]:
    objects = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    ).fetchall()
    shape: dict[str, Any] = {"objects": [(t, n, tb, _norm_sql(s)) for t, n, tb, s in objects]}
    for _, name, _, _ in objects:
        if _ == "table":
            shape[f"columns:{name}"] = conn.execute(f"PRAGMA table_xinfo({name})").fetchall()
            shape[f"fks:{name}"] = conn.execute(f"PRAGMA foreign_key_list({name})").fetchall()
            shape[f"indexes:{name}"] = [
                (row[1:], conn.execute(f"PRAGMA index_xinfo({row[1]})").fetchall())
                for row in conn.execute(f"PRAGMA index_list({name})").fetchall()
            ]
    return shape


PG_SHAPE = {
    "columns": """SELECT table_name, column_name, ordinal_position, data_type, is_nullable,
                         column_default, is_identity
                  FROM information_schema.columns WHERE table_schema = %s
                  ORDER BY table_name, ordinal_position""",
    "indexes": """SELECT tablename, indexname, replace(indexdef, %s || '.', '')
                  FROM pg_indexes WHERE schemaname = %s ORDER BY tablename, indexname""",
    "constraints": """SELECT c.conrelid::regclass::text, c.conname, c.contype,
                             pg_get_constraintdef(c.oid)
                      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                      WHERE n.nspname = %s ORDER BY 2""",
    "triggers": """SELECT trigger_name, event_manipulation, event_object_table, action_timing,
                          action_orientation, action_statement
                   FROM information_schema.triggers WHERE trigger_schema = %s ORDER BY 1, 2""",
    "functions": """SELECT p.proname, p.prosrc FROM pg_proc p
                    JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = %s ORDER BY 1""",
}


def pg_schema(conn: psycopg.Connection[Any], schema: str) -> dict[str, Any]:
    shape: dict[str, Any] = {}
    for part, query in PG_SHAPE.items():
        params = (schema, schema) if part == "indexes" else (schema,)
        rows = conn.execute(query, params).fetchall()
        shape[part] = [tuple(str(v).replace(f"{schema}.", "") for v in row) for row in rows]
    return shape


def test_migrations_build_schema_sql(store: Store, tmp_path: Path) -> None:
    if isinstance(store, SQLiteStore):
        fresh = sqlite3.connect(tmp_path / "fresh.db")
        try:
            fresh.executescript(read_sql("sqlite", "schema.sql"))
            with raw(store) as migrated:
                assert sqlite_schema(migrated) == sqlite_schema(fresh)
        finally:
            fresh.close()
        return
    conninfo, schema = split_schema(store.url)  # type: ignore[attr-defined]
    assert schema is not None
    other = f"bb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(other)))
        try:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(other)))
            conn.execute(read_sql("postgres", "schema.sql").encode())
            migrated, fresh = pg_schema(conn, schema), pg_schema(conn, other)
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(other)))
    assert migrated["columns"]
    assert migrated == fresh


def test_every_migration_is_recorded_once(store: Store) -> None:
    known = [version for version, _, _ in migrations(store.dialect)]
    with raw(store) as conn:
        applied = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert applied == known


def test_reopening_applies_nothing_twice(store: Store, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if store.dialect == "sqlite" else "pg_url")
    if store.dialect == "postgres":
        url = store.url  # type: ignore[attr-defined]
    run = store.start_run(flow="f", kind="live", actor="a")
    again = open_store(url)
    try:
        assert again.get_run(run.id) == run
    finally:
        again.close()
    test_every_migration_is_recorded_once(store)


def test_a_newer_schema_is_refused(store: Store) -> None:
    url = store.url if store.dialect == "postgres" else store.path  # type: ignore[attr-defined]
    applied_at = "'2030-01-01T00:00:00.000000+00:00'"
    with raw(store) as conn:
        conn.execute(f"INSERT INTO schema_migrations VALUES (9999, {applied_at})")
    with pytest.raises(StoreError, match="schema is version 9999, newer than"):
        open_store(url)
