"""The audit log: a hash chain that verifies, and a table the database keeps append-only."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from billbridge.store import AuditEvent, Batch, Store, StoreError, _common, audit_chain
from billbridge.store._sqlite import SQLiteStore

from .conftest import T0, at, driver_error, raw


def event(n: int, **kw: object) -> AuditEvent:
    fields: dict[str, object] = {
        "actor": "system",
        "action": "posted",
        "record_key": f"stripe:invoice:in_{n}",
        "diff": {"account": [None, "Income:Sales"], "amount": [None, Decimal("119.00")]},
        "mapping_version": "m1",
        "at": at(n),
    }
    fields.update(kw)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def fill(store: Store, count: int = 5) -> None:
    run = store.start_run(flow="invoices", kind="live", actor="system")
    first = store.append_audit(event(1, run_id=run.id))
    assert (first.seq, first.prev_hash) == (1, audit_chain.GENESIS)
    store.commit(Batch(audit=[event(n, run_id=run.id) for n in range(2, count + 1)]))


def test_fresh_chain_verifies(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store.verify_audit() == audit_chain.AuditVerdict(ok=True, rows=0, first_bad=None)
    fill(store, 7)
    rows = store.audit_rows()
    assert [r.seq for r in rows] == list(range(1, 8))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert rows[0].diff == {"account": [None, "Income:Sales"], "amount": [None, "119.00"]}
    assert rows[0].at == T0 + timedelta(minutes=1)
    monkeypatch.setattr(_common, "PAGE", 3)  # verify streams page by page
    assert store.verify_audit() == audit_chain.AuditVerdict(ok=True, rows=7, first_bad=None)


def test_append_returns_the_stored_row(store: Store) -> None:
    row = store.append_audit(AuditEvent(actor="token:ci", action="config"))
    assert store.audit_rows() == [row]
    assert row.at.tzinfo is not None
    assert row.hash == audit_chain.row_hash(row)


def test_audit_rows_filters(store: Store) -> None:
    fill(store, 5)
    store.append_audit(event(2, action="replayed", actor="ana"))
    assert [r.seq for r in store.audit_rows(record_key="stripe:invoice:in_2")] == [2, 6]
    assert [r.seq for r in store.audit_rows(limit=2)] == [5, 6]
    assert store.audit_rows(record_key="nope") == []


def test_bad_diff_is_refused_before_writing(store: Store) -> None:
    with pytest.raises(StoreError, match="not JSON"):
        store.append_audit(AuditEvent(actor="a", action="b", diff={"x": object()}))
    assert store.audit_rows() == []


def test_database_refuses_update_and_delete(store: Store) -> None:
    fill(store, 3)
    with raw(store) as conn:
        with pytest.raises(driver_error(store), match="append-only"):
            conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
        with pytest.raises(driver_error(store), match="append-only"):
            conn.execute("DELETE FROM audit WHERE seq = 3")
        if not isinstance(store, SQLiteStore):
            with pytest.raises(driver_error(store), match="append-only"):
                conn.execute("TRUNCATE audit")
    assert store.verify_audit().ok
    assert len(store.audit_rows()) == 3


def test_refusal_reaches_the_store_as_store_error(store: Store) -> None:
    """If store code ever tried it, the caller sees a StoreError, not a driver error."""
    fill(store, 1)
    sql_store: _common.SqlStore = store  # type: ignore[assignment]
    with (
        pytest.raises(StoreError, match="audit log is append-only") as caught,
        sql_store._guard("delete audit"),
        sql_store._write() as tx,
    ):
        tx.execute("DELETE FROM audit", ())
    assert caught.value.__cause__ is None
    assert len(store.audit_rows()) == 1


def test_edit_bypassing_the_trigger_is_found(store: Store) -> None:
    fill(store, 5)
    with raw(store) as conn:
        if isinstance(store, SQLiteStore):
            conn.execute("DROP TRIGGER audit_no_update")
        else:
            conn.execute("ALTER TABLE audit DISABLE TRIGGER ALL")
        conn.execute(
            """UPDATE audit SET diff = '{"account":[null,"Income:Other"]}' WHERE seq = 3"""
        )
    verdict = store.verify_audit()
    assert (verdict.ok, verdict.first_bad) == (False, 3)


def test_removed_row_is_found(store: Store) -> None:
    fill(store, 5)
    with raw(store) as conn:
        if isinstance(store, SQLiteStore):
            conn.execute("DROP TRIGGER audit_no_delete")
        else:
            conn.execute("ALTER TABLE audit DISABLE TRIGGER ALL")
        conn.execute("DELETE FROM audit WHERE seq = 4")
    assert store.verify_audit().first_bad == 5


# ---------------------------------------------------------------- the pure chain functions


def _chain(count: int) -> list[audit_chain.AuditRow]:
    rows: list[audit_chain.AuditRow] = []
    prev = audit_chain.GENESIS
    for seq in range(1, count + 1):
        row = audit_chain.AuditRow(
            seq=seq, at=at(seq), actor="a", action="posted", record_key=f"k{seq}",
            diff={"x": [seq, seq + 1]}, run_id=None, mapping_version="", prev_hash=prev,
            hash="",
        )  # fmt: skip
        row = replace(row, hash=audit_chain.row_hash(row))
        rows.append(row)
        prev = row.hash
    return rows


def test_chain_hash_is_sha256_of_prev_and_canonical() -> None:
    (row,) = _chain(1)
    content = audit_chain.canonical(
        seq=1, at=row.at, actor="a", action="posted", record_key="k1", diff={"x": [1, 2]},
        run_id=None, mapping_version="",
    )  # fmt: skip
    assert content.startswith(
        b'{"action":"posted","actor":"a","at":"2024-05-01T09:31:00.000000+00:00"'
    )
    assert row.hash == hashlib.sha256(b"0" * 64 + content).hexdigest()


def test_verify_chain_names_the_first_bad_row() -> None:
    rows = _chain(4)
    assert audit_chain.verify_chain(iter(rows)).ok
    edited = [*rows[:1], replace(rows[1], actor="mallory"), *rows[2:]]
    assert audit_chain.verify_chain(edited).first_bad == 2
    relinked = [*rows[:2], replace(rows[2], prev_hash=audit_chain.GENESIS), rows[3]]
    assert audit_chain.verify_chain(relinked).first_bad == 3
    assert audit_chain.verify_chain(rows[1:]).first_bad == 2


def test_iso_utc_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        audit_chain.iso_utc(T0.replace(tzinfo=None))
