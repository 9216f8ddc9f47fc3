"""Change control in the store (migration 0080), on both backends.

The migration that widens the roles check rebuilds `users` on SQLite, whose tokens and
sessions reference it ON DELETE CASCADE: a store holding them is migrated here from the
schema before 0080, with foreign keys on as the store runs, and must keep every one.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from billbridge.store import (
    AuditEvent,
    ChangedMeanwhileError,
    MappingVersionRow,
    RecordDecisionRow,
    Store,
    StoreError,
    open_store,
)
from billbridge.store._postgres import split_schema
from billbridge.store._queries import migrations

from .conftest import driver_error, raw

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATER = datetime.now(UTC) + timedelta(days=3)  # sessions must outlive the test


def _old_sqlite_store(path: Path) -> None:
    """A state file as billbridge left it before 0080, with users, tokens and sessions."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        for version, _, script in migrations("sqlite"):
            if version < 80:
                conn.executescript(script)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, "x"))
        conn.executescript(
            f"""
            INSERT INTO users VALUES ('ana', 'admin', 'h1', '{NOW.isoformat()}');
            INSERT INTO users VALUES ('otto', 'operator', 'h2', '{NOW.isoformat()}');
            INSERT INTO api_tokens (user_name, token_hash, label, created_at)
                VALUES ('ana', 'tok-1', 'ci', '{NOW.isoformat()}');
            INSERT INTO api_tokens (user_name, token_hash, label, created_at, revoked_at)
                VALUES ('otto', 'tok-2', 'old', '{NOW.isoformat()}', '{NOW.isoformat()}');
            INSERT INTO api_tokens (user_name, token_hash, label, created_at)
                VALUES ('otto', 'tok-3', 'gone', '{NOW.isoformat()}');
            DELETE FROM api_tokens WHERE token_hash = 'tok-3';
            INSERT INTO web_sessions VALUES ('sess-1', 'otto', 'csrf-1', '{NOW.isoformat()}',
                                             '{LATER.isoformat()}');
            """
        )
    finally:
        conn.close()


def test_sqlite_0080_keeps_tokens_sessions_and_token_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_sqlite_store(path)
    store = open_store(path)
    try:
        _check_kept(store)
        # tok-3 (id 3) was deleted before the migration: its id is never handed out again.
        store.add_user(name="mia", role="mapper", password_hash="h")
        new_id = store.add_token(user="mia", token_hash="tok-4", label="", expires_at=None)
        assert new_id == 4
        with raw(store) as conn:
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            leftovers = conn.execute(
                "SELECT name FROM sqlite_master WHERE name LIKE '%_0080'"
            ).fetchall()
        assert leftovers == []
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_0080_keeps_tokens_and_sessions(pg_url: str) -> None:
    conninfo, schema = split_schema(pg_url)
    assert schema is not None
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL)"
        )
        for version, _, script in migrations("postgres"):
            if version < 80:
                conn.execute(script.encode())
                conn.execute("INSERT INTO schema_migrations VALUES (%s, now())", (version,))
        conn.execute("INSERT INTO users VALUES ('ana', 'admin', 'h1', %s)", (NOW,))
        conn.execute("INSERT INTO users VALUES ('otto', 'operator', 'h2', %s)", (NOW,))
        conn.execute(
            "INSERT INTO api_tokens (user_name, token_hash, label, created_at) "
            "VALUES ('ana', 'tok-1', 'ci', %s)",
            (NOW,),
        )
        conn.execute(
            "INSERT INTO api_tokens (user_name, token_hash, label, created_at, revoked_at) "
            "VALUES ('otto', 'tok-2', 'old', %s, %s)",
            (NOW, NOW),
        )
        conn.execute(
            "INSERT INTO web_sessions VALUES ('sess-1', 'otto', 'csrf-1', %s, %s)", (NOW, LATER)
        )
    store = open_store(pg_url)
    try:
        _check_kept(store)
    finally:
        store.close()


def _check_kept(store: Store) -> None:
    tokens = {(t.user, t.label, t.revoked_at is not None) for t in store.list_tokens()}
    assert tokens == {("ana", "ci", False), ("otto", "old", True)}
    user = store.user_for_token("tok-1")
    assert user is not None and user.name == "ana"
    assert store.user_for_token("tok-2") is None  # still revoked
    found = store.session_user("sess-1")
    assert found is not None and (found[0].name, found[1]) == ("otto", "csrf-1")
    store.set_role("otto", "approver", actor="ana")
    user = store.get_user("otto")
    assert user is not None and user.role == "approver"
    # the widened check still refuses what is not a role
    with raw(store) as conn, pytest.raises(driver_error(store)):
        conn.execute("UPDATE users SET role = 'root' WHERE name = 'otto'")


def _version(flow: str = "f", version: str = "aaaaaaaaaaaa", **kw: str) -> MappingVersionRow:
    return MappingVersionRow(
        flow=flow, version=version, content=kw.get("content", "{}"),
        author=kw.get("author", "ana"), created_at=NOW, comment=kw.get("comment", ""),
        parent=kw.get("parent", ""),
    )  # fmt: skip


def test_a_version_is_stored_once_and_never_changed(store: Store) -> None:
    audit = AuditEvent(actor="ana", action="mapping-draft", diff={"version": [None, "a"]})
    assert store.add_mapping_version(_version(comment="first"), audit=audit) is True
    assert store.add_mapping_version(_version(comment="again"), audit=audit) is False
    kept = store.get_mapping_version("f", "aaaaaaaaaaaa")
    assert kept is not None and kept.comment == "first"
    assert [r.action for r in store.audit_rows()] == ["mapping-draft"]
    with raw(store) as conn:
        with pytest.raises(driver_error(store), match="immutable"):
            conn.execute("UPDATE mapping_versions SET author = 'mallory'")
        with pytest.raises(driver_error(store), match="immutable"):
            conn.execute("DELETE FROM mapping_versions")


def test_promotion_moves_the_flow_and_refuses_a_stale_view(store: Store) -> None:
    assert store.promoted_mapping("f") is None
    store.add_mapping_version(_version(version="v1"), audit=None)
    store.add_mapping_version(_version(version="v2", parent="v1"), audit=None)

    def promote(version: str, expected: str | None) -> None:
        store.promote_mapping(
            flow="f", version=version, expected=expected, kind="promote", actor="bob",
            test_id=None, source="stripe", target="books", mapping="/ws/mapping.yaml",
            audit=AuditEvent(actor="bob", action="mapping-promoted", mapping_version=version),
        )  # fmt: skip

    promote("v1", None)
    promote("v2", "v1")
    assert store.promoted_mapping("f") == "v2"
    with pytest.raises(ChangedMeanwhileError, match="now runs mapping v2"):
        promote("v1", "v1")
    assert [(p.version, p.previous) for p in store.mapping_promotions("f")] == [
        ("v1", ""),
        ("v2", "v1"),
    ]
    with raw(store) as conn:
        row = conn.execute("SELECT mapping_version, target FROM flows WHERE name = 'f'").fetchone()
    assert tuple(row) == ("v2", "books")
    assert [r.mapping_version for r in store.audit_rows()] == ["v1", "v2"]


def test_tests_and_decisions_are_kept(store: Store) -> None:
    audit = AuditEvent(actor="mia", action="mapping-tested", diff={"draft": [None, "v2"]})
    row = store.add_mapping_test(
        flow="f", draft="v2", base="v1", actor="mia", records=3, summary={"changed": 1},
        audit=audit,
    )  # fmt: skip
    assert [t.id for t in store.mapping_tests("f", draft="v2")] == [row.id]
    assert store.mapping_tests("f", draft="v3") == []
    assert store.mapping_tests("f")[0].summary == {"changed": 1}
    assert store.audit_rows()[-1].diff["test"] == [None, row.id]
    decision = RecordDecisionRow(
        flow="f", record_key="s:credit_note:cn_1", version="x1", rule="big", decision="rejected",
        reason="duplicate", actor="bob",
    )  # fmt: skip
    store.decide_record(decision, audit=AuditEvent(actor="bob", action="rejected"))
    kept = store.record_decisions("f", "s:credit_note:cn_1")
    assert [(d.decision, d.reason, d.actor) for d in kept] == [("rejected", "duplicate", "bob")]


def test_unknown_roles_are_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.add_user(name="x", role="root", password_hash="h")  # type: ignore[arg-type]
    store.add_user(name="mia", role="mapper", password_hash="h")
    store.add_user(name="bob", role="approver", password_hash="h")
