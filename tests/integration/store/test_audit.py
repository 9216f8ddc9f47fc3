"""The audit log: a hash chain that verifies, and a table the database keeps append-only."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billbridge.store import AuditEvent, Batch, Store, StoreError, _audit_log, _common, audit_chain
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
    monkeypatch.setattr(_audit_log, "PAGE", 3)  # verify streams page by page
    assert store.verify_audit() == audit_chain.AuditVerdict(ok=True, rows=7, first_bad=None)


def test_committed_hashes_are_pinned(store: Store) -> None:
    """Hashes written by the batch path before it stopped re-serialising diffs (#3)."""
    store.commit(
        Batch(
            audit=[
                AuditEvent(actor="system", action="posted", record_key="stripe:invoice:in_1",
                           at=T0, mapping_version="m1",
                           diff={"postings": [None, ["issue"]],
                                 "amount": [None, Decimal("119.00")]}),
                AuditEvent(actor="system", action="warning", record_key="stripe:invoice:in_1",
                           at=T0,
                           diff={"warning": [None, 'tax id \u00fc "x"'],
                                 "field": [None, "tax_id"]}),
            ]
        )
    )  # fmt: skip
    assert [r.hash for r in store.audit_rows()] == [
        "49099c1d63a49cd2a7e59bf616e5ec9c3d17040c8eeaa41849dd175efd6e80b6",
        "545fd39648cb5777a502c306bf23604134ca63116b254fba4fcd1e0121538213",
    ]
    assert store.verify_audit().ok


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


def test_verify_chain_against_anchors_names_missing_and_rewritten_rows() -> None:
    rows = _chain(6)
    anchors = {2: [rows[1].hash], 4: [rows[3].hash], 6: [rows[5].hash]}
    verdict = audit_chain.verify_chain(rows, anchors)
    assert (verdict.ok, verdict.anchored, verdict.missing, verdict.rewritten) == (
        True, 6, None, None,
    )  # fmt: skip
    cut = audit_chain.verify_chain(rows[:3], anchors)
    assert (cut.ok, cut.first_bad, cut.missing) == (False, 4, (4, 6))
    assert audit_chain.verify_chain(rows[:3]).ok  # without anchors the cut is invisible
    # row 5 edited and every hash after it recomputed: the chain verifies on its own
    prev, rewritten = rows[3].hash, list(rows[:4])
    for row in rows[4:]:
        new = replace(row, actor="mallory", prev_hash=prev)
        new = replace(new, hash=audit_chain.row_hash(new))
        rewritten.append(new)
        prev = new.hash
    assert audit_chain.verify_chain(rewritten).ok
    found = audit_chain.verify_chain(rewritten, anchors)
    assert (found.ok, found.first_bad, found.rewritten) == (False, 6, (5, 6))
    # two anchors disagreeing about one seq: one of them saw another chain
    assert not audit_chain.verify_chain(rows, {6: [rows[5].hash, "f" * 64]}).ok


def test_iso_utc_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        audit_chain.iso_utc(T0.replace(tzinfo=None))


@dataclass
class _Unsorted:  # orjson writes a dataclass in field order, not sorted
    zed: int = 1
    alpha: str = "a"


class _Text(str):
    pass


class _Dict(dict[str, int]):
    pass


_DIFFS: list[dict[str, Any]] = [
    {},
    {"status": ["open", "dismissed"], "resolution": ["", "dup"]},
    {"amount": [Decimal("1.50"), Decimal("-0")], "n": [None, 10**18], "ok": [True, False]},
    {"nested": {"z": 1, "a": {"y": [1, (2, 3)], "b": None}}, "tuple": (1, "x")},
    {"float": [0.1, 1e300, -0.0], "nan": float("nan")},
    {"at": [None, datetime(2024, 5, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))]},
    {"dc": _Unsorted(), "sub": _Text("x"), "subdict": _Dict(z=1, a=2)},
    {"text": '\u00fc\u2028\n"\\\x00\U0001f600'},
]


@pytest.mark.parametrize("diff", _DIFFS)
def test_write_path_hashes_what_verify_recomputes(diff: dict[str, Any]) -> None:
    _check_write_path(diff)


_LEAVES = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text()
    | st.floats() | st.decimals(allow_nan=False) | st.datetimes(timezones=st.just(UTC))
)  # fmt: skip
_JSON = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=5))
def test_write_path_hashes_what_verify_recomputes_any_diff(diff: dict[str, Any]) -> None:
    _check_write_path(diff)


@pytest.mark.parametrize("diff", [{"k": object()}, {"k": {1: 2}}, {"k": 2**64}])
def test_write_path_refuses_what_normalize_refuses(diff: dict[str, Any]) -> None:
    with pytest.raises(TypeError) as expected:
        audit_chain.normalize_diff(diff)
    with pytest.raises(TypeError) as got:
        audit_chain.diff_texts(diff)
    assert str(got.value) == str(expected.value)


def _check_write_path(diff: dict[str, Any]) -> None:
    """`diff_texts` + `canonical_text` (the batch path) give `normalize_diff` + `canonical`."""
    normalized, text = audit_chain.normalize_diff(diff)
    stored, hashed = audit_chain.diff_texts(diff)
    assert stored == text
    parts: dict[str, Any] = {
        "seq": 7, "actor": "a", "action": "posted", "record_key": "k", "run_id": 3,
        "mapping_version": "m",
    }  # fmt: skip
    reference = audit_chain.canonical(at=T0, diff=normalized, **parts)
    assert audit_chain.canonical_text(at=audit_chain.iso_utc(T0), diff=hashed, **parts) == (
        reference
    )
