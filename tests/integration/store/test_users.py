"""Users, tokens, sessions and the audit search, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billbridge.store import AuditEvent, Store, StoreError

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
