"""Users, tokens, sessions and the audit search, on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from billbridge.store import (
    AuditEvent,
    LastAdminError,
    NotFoundError,
    Store,
    StoreError,
    open_store,
)
from billbridge.store._postgres import PostgresStore

from .conftest import at


def test_a_user_is_stored_once_with_its_role(store: Store) -> None:
    store.add_user(name="ana", role="operator", password_hash="$argon2id$x")
    with pytest.raises(StoreError, match="user 'ana' already exists"):
        store.add_user(name="ana", role="admin", password_hash="$argon2id$y")
    user = store.get_user("ana")
    assert user is not None
    assert (user.role, user.password_hash) == ("operator", "$argon2id$x")
    assert [u.name for u in store.list_users()] == ["ana"]
    assert store.get_user("bob") is None


def test_a_token_finds_its_user_until_it_expires(store: Store) -> None:
    store.add_user(name="ana", role="viewer", password_hash="h")
    now = datetime.now(UTC)
    store.add_token(user="ana", token_hash="live", label="ci", expires_at=None)
    store.add_token(user="ana", token_hash="old", label="", expires_at=now - timedelta(seconds=1))
    live = store.user_for_token("live")
    assert live is not None
    assert live.name == "ana"
    assert store.user_for_token("old") is None
    assert store.user_for_token("unknown") is None


def test_a_session_carries_its_csrf_token_and_ends(store: Store) -> None:
    store.add_user(name="ana", role="admin", password_hash="h")
    later = datetime.now(UTC) + timedelta(hours=1)
    store.add_session(session_hash="s1", user="ana", csrf="c1", expires_at=later)
    found = store.session_user("s1")
    assert found is not None
    assert (found[0].name, found[1]) == ("ana", "c1")
    store.end_session("s1")
    assert store.session_user("s1") is None
    store.add_session(
        session_hash="s2", user="ana", csrf="c2", expires_at=datetime.now(UTC) - timedelta(1)
    )
    assert store.session_user("s2") is None


def test_audit_search_filters_by_record_actor_and_dates(store: Store) -> None:
    for minute, actor, key in ((0, "ana", "k1"), (10, "bob", "k1"), (20, "ana", "k2")):
        store.append_audit(
            AuditEvent(actor=actor, action="replayed", record_key=key, at=at(minute))
        )
    assert [r.seq for r in store.search_audit(actor="ana")] == [1, 3]
    assert [r.seq for r in store.search_audit(record_key="k1")] == [1, 2]
    assert [r.seq for r in store.search_audit(since=at(5), until=at(20))] == [2]
    assert [r.seq for r in store.search_audit(actor="ana' OR '1'='1")] == []
    assert [r.seq for r in store.search_audit(limit=1)] == [3]


def test_a_revoked_token_never_authenticates_and_its_row_stays(store: Store) -> None:
    store.add_user(name="ana", role="viewer", password_hash="h")
    first = store.add_token(user="ana", token_hash="t1", label="ci", expires_at=None)
    store.add_token(user="ana", token_hash="t2", label="laptop", expires_at=None)
    assert store.user_for_token("t1") is not None
    token, changed = store.revoke_token(first, actor="ada")
    assert changed
    assert (token.id, token.user, token.label) == (first, "ana", "ci")
    assert token.revoked_at is not None
    assert store.user_for_token("t1") is None
    assert store.user_for_token("t2") is not None, "only the revoked token stops"
    again, changed = store.revoke_token(first, actor="ada")
    assert not changed
    assert again.revoked_at == token.revoked_at
    listed = {t.label: t for t in store.list_tokens(user="ana")}
    assert listed["ci"].status(datetime.now(UTC)) == "revoked"
    assert listed["laptop"].status(datetime.now(UTC)) == "active"
    assert listed["laptop"].last_used_at is not None, "a use is noted"
    assert listed["ci"].revoked_at == token.revoked_at
    with pytest.raises(NotFoundError, match="no API token 999"):
        store.revoke_token(999, actor="ada")
    assert [(r.action, r.actor) for r in store.audit_rows()] == [("token-revoked", "ada")]
    assert store.verify_audit().ok


def test_removing_a_user_ends_their_tokens_and_sessions_but_keeps_their_audit(
    store: Store,
) -> None:
    store.add_user(name="ada", role="admin", password_hash="h")
    store.add_user(name="otto", role="operator", password_hash="h")
    store.add_token(user="otto", token_hash="tok", label="", expires_at=None)
    store.add_session(
        session_hash="ses", user="otto", csrf="c", expires_at=datetime.now(UTC) + timedelta(1)
    )
    store.append_audit(AuditEvent(actor="otto", action="replayed", record_key="k1"))
    user, tokens = store.remove_user("otto", actor="ada")
    assert (user.name, user.role, tokens) == ("otto", "operator", 1)
    assert store.get_user("otto") is None
    assert store.user_for_token("tok") is None
    assert store.session_user("ses") is None
    assert store.list_tokens(user="otto") == []
    rows = store.audit_rows()
    assert [(r.actor, r.action) for r in rows] == [("otto", "replayed"), ("ada", "user-removed")]
    assert rows[1].diff == {"user": ["otto", None], "role": ["operator", None], "tokens": [1, 0]}
    assert store.verify_audit().ok
    with pytest.raises(NotFoundError, match="no user 'otto'"):
        store.remove_user("otto", actor="ada")


def test_the_last_admin_is_never_removed_or_demoted(store: Store) -> None:
    store.add_user(name="ada", role="admin", password_hash="h")
    store.add_user(name="vera", role="viewer", password_hash="h")
    with pytest.raises(LastAdminError, match="'ada' is the last admin"):
        store.remove_user("ada", actor="ada")
    with pytest.raises(LastAdminError, match="last admin"):
        store.set_role("ada", "operator", actor="ada")
    assert store.set_role("ada", "admin", actor="ada") == "admin", "no change is fine"
    assert store.audit_rows() == [], "refusals and no-ops write nothing"
    assert store.set_role("vera", "admin", actor="ada") == "viewer"
    assert store.set_role("ada", "operator", actor="vera") == "admin"
    roles = {u.name: u.role for u in store.list_users()}
    assert roles == {"ada": "operator", "vera": "admin"}
    assert [r.diff["role"] for r in store.audit_rows()] == [
        ["viewer", "admin"],
        ["admin", "operator"],
    ]


def test_two_admins_removed_at_once_leave_one(store: Store) -> None:
    """The last-admin check and the removal share the writer lock: no race leaves none."""
    store.add_user(name="ada", role="admin", password_hash="h")
    store.add_user(name="bea", role="admin", password_hash="h")
    url = store.url if isinstance(store, PostgresStore) else store.path  # type: ignore[attr-defined]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def remove(name: str) -> None:
        other = open_store(url)
        try:
            start.wait()
            other.remove_user(name, actor="test")
            outcomes.append("removed")
        except LastAdminError:
            outcomes.append("refused")
        finally:
            other.close()

    threads = [threading.Thread(target=remove, args=(n,)) for n in ("ada", "bea")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "removed"]
    assert [u.role for u in store.list_users()] == ["admin"]
