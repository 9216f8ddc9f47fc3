"""The Store contract on both backends: round trips, one-transaction batches, the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import billbridge.store
from billbridge.store import (
    AuditEvent,
    Batch,
    CursorRow,
    ExceptionRow,
    OutcomeRow,
    PostingRow,
    RecordRow,
    Store,
    StoreError,
    _common,
    _records,
    open_store,
)

from .conftest import at


def record(n: int, *, version: str = "v1", minute: int = 0) -> RecordRow:
    return RecordRow(
        key=f"stripe:invoice:in_{n}",
        connection="stripe",
        object="invoice",
        source_id=f"in_{n}",
        version=version,
        snapshot=b'{"id": "in_%d", "total": 11900}' % n,
        seen_at=at(minute),
    )


def posting(n: int, run_id: int, *, facet: str = "issue", flow: str = "invoices") -> PostingRow:
    return PostingRow(
        flow=flow,
        record_key=f"stripe:invoice:in_{n}",
        facet=facet,
        idempotency_key=f"{flow}:in_{n}:{facet}",
        version="v1",
        entry_hash=f"h{n}",
        target="books",
        target_ref=f"books/billbridge.beancount:{n * 100}",
        run_id=run_id,
        posted_at=at(1),
        summary=f"Invoice HB-{n:04d} — Globex Corp",
        link=f"in_{n}",
    )


def outcome(n: int, run_id: int, name: str = "synced", **kw: object) -> OutcomeRow:
    return OutcomeRow(
        run_id=run_id,
        flow="invoices",
        record_key=f"stripe:invoice:in_{n}",
        version="v1",
        outcome=name,  # type: ignore[arg-type]
        at=at(2),
        **kw,  # type: ignore[arg-type]
    )


def problem(n: int, minute: int, **kw: object) -> ExceptionRow:
    fields: dict[str, object] = {
        "flow": "invoices",
        "record_key": f"stripe:invoice:in_{n}",
        "version": "v1",
        "kind": "failed",
        "error": "tax rate 19% has no account",
        "field": "lines[0].tax",
        "hint": "add 19% to tax_accounts in mapping.yaml",
        "at": at(minute),
    }
    fields.update(kw)
    return ExceptionRow(**fields)  # type: ignore[arg-type]


def test_public_api_is_complete() -> None:
    public = {n for n in dir(billbridge.store) if not n.startswith("_")}
    assert public - {"annotations", "base", "roles", "rows", "audit_chain", "Path"} == set(
        billbridge.store.__all__
    )


def test_runs_round_trip(store: Store) -> None:
    run = store.start_run(flow="invoices", kind="backfill", actor="ana", mapping_version="m1")
    assert store.get_run(run.id) == run
    assert run.started_at.tzinfo is not None
    store.finish_run(run.id, counts={"synced": 3, "failed": 1}, status="finished")
    done = store.get_run(run.id)
    assert done is not None
    assert (done.status, dict(done.counts), done.mapping_version) == (
        "finished",
        {"synced": 3, "failed": 1},
        "m1",
    )
    assert done.finished_at is not None
    assert done.finished_at.utcoffset() == timedelta(0)
    other = store.start_run(flow="payments", kind="live", actor="system")
    assert [r.id for r in store.list_runs()] == [other.id, run.id]
    assert [r.id for r in store.list_runs(flow="invoices")] == [run.id]
    assert [r.id for r in store.list_runs(limit=1)] == [other.id]
    assert store.get_run(9999) is None
    with pytest.raises(StoreError, match="no run 9999"):
        store.finish_run(9999, counts={}, status="finished")


def test_records_round_trip_and_upsert(store: Store) -> None:
    first, second = record(1), record(2)
    store.commit(Batch(records=[first, second]))
    assert store.get_record(first.key) == first
    assert store.get_records([first.key, second.key, "nope"]) == {
        first.key: first,
        second.key: second,
    }
    assert store.get_records([]) == {}
    newer = record(1, version="v2", minute=5)
    store.commit(Batch(records=[newer]))
    assert store.get_record(first.key) == newer
    assert store.find_records(source_id="in_1") == [newer]
    assert store.get_record("missing") is None


def test_times_come_back_aware_utc(store: Store) -> None:
    berlin = timezone(timedelta(hours=2))
    row = RecordRow(
        key="k", connection="c", object="o", source_id="1", version="v",
        snapshot=b"", seen_at=datetime(2024, 5, 1, 11, 30, 0, 123456, tzinfo=berlin),
    )  # fmt: skip
    store.commit(Batch(records=[row]))
    got = store.get_record("k")
    assert got is not None
    assert got.seen_at == row.seen_at
    assert got.seen_at.tzinfo == UTC
    assert got.seen_at.hour == 9
    assert got.seen_at.microsecond == 123456


def test_naive_datetime_is_refused(store: Store) -> None:
    naive = RecordRow(
        key="k", connection="c", object="o", source_id="1", version="v",
        snapshot=b"", seen_at=datetime(2024, 5, 1, 9, 30),
    )  # fmt: skip
    with pytest.raises(StoreError, match="naive datetime"):
        store.commit(Batch(records=[naive]))


def test_postings_round_trip(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    run = store.start_run(flow="invoices", kind="live", actor="system")
    rows = [posting(n, run.id) for n in range(5)]
    rows.append(posting(0, run.id, facet="payment"))
    rows.append(posting(0, run.id, flow="refunds"))
    store.commit(Batch(postings=rows))
    key0 = "stripe:invoice:in_0"
    assert store.postings_for(key0) == [rows[0], rows[5], rows[6]]
    assert store.postings_for(key0, flow="invoices") == [rows[0], rows[5]]
    assert store.posting_by_key(rows[3].idempotency_key) == rows[3]
    assert store.posting_by_key("nope") is None
    assert store.postings_linked("in_0") == [rows[0], rows[5], rows[6]]
    assert store.postings_linked("") == []
    # the records of one flow whose entries carry any of several links, in one query
    assert store.records_linked(["in_0", "in_3", "in_9"], flow="invoices") == [
        "stripe:invoice:in_0",
        "stripe:invoice:in_3",
    ]
    assert store.records_linked(["in_0"], flow="refunds") == ["stripe:invoice:in_0"]
    assert store.records_linked([], flow="invoices") == []
    monkeypatch.setattr(_records, "PAGE", 2)  # stream across several pages
    assert list(store.iter_postings()) == rows
    assert list(store.iter_postings(flow="refunds")) == [rows[6]]


def test_outcomes_round_trip_and_counts(store: Store) -> None:
    run = store.start_run(flow="invoices", kind="live", actor="system")
    rows = [
        outcome(1, run.id),
        outcome(2, run.id, "failed", retryable=True, error="503", field="target", hint="h"),
        outcome(3, run.id, "failed"),
        outcome(1, run.id, "unchanged"),
    ]
    store.commit(Batch(outcomes=rows))
    assert store.outcomes_for("stripe:invoice:in_1") == [rows[0], rows[3]]
    assert store.outcomes_for("stripe:invoice:in_2") == [rows[1]]
    assert store.outcome_counts(run.id) == {"synced": 1, "failed": 2, "unchanged": 1}
    assert store.outcome_counts(run.id + 1) == {}


def test_outcome_for_unknown_run_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="commit"):
        store.commit(Batch(outcomes=[outcome(1, run_id=424242)]))


def test_cursors_upsert(store: Store) -> None:
    assert store.get_cursor("invoices", "source") is None
    store.commit(Batch(cursors=[CursorRow(flow="invoices", name="source", value="evt_1")]))
    moved = CursorRow(flow="invoices", name="source", value="evt_9", position=4096)
    other = CursorRow(flow="invoices", name="target", value="", position=77)
    store.commit(Batch(cursors=[moved, other]))
    assert store.get_cursor("invoices", "source") == moved
    assert store.get_cursor("invoices", "target") == other


def test_batch_is_one_transaction(store: Store) -> None:
    run = store.start_run(flow="invoices", kind="live", actor="system")
    store.commit(Batch(postings=[posting(1, run.id)]))
    before = store.audit_rows()
    doomed = Batch(
        records=[record(2)],
        postings=[posting(2, run.id), posting(1, run.id)],  # in_1's key is already posted
        outcomes=[outcome(2, run.id)],
        exceptions=[problem(3, 0)],
        cursors=[CursorRow(flow="invoices", name="source", value="evt_2")],
        audit=[AuditEvent(actor="system", action="posted", record_key="stripe:invoice:in_2")],
    )
    with pytest.raises(StoreError, match="idempotency_key"):
        store.commit(doomed)
    assert store.get_record("stripe:invoice:in_2") is None
    assert store.posting_by_key(posting(2, run.id).idempotency_key) is None
    assert store.outcomes_for("stripe:invoice:in_2") == []
    assert store.open_exceptions() == []
    assert store.get_cursor("invoices", "source") is None
    assert store.audit_rows() == before
    store.commit(Batch(postings=[posting(2, run.id)]))  # the store is still usable
    assert store.posting_by_key(posting(2, run.id).idempotency_key) is not None


def test_empty_batch_writes_nothing(store: Store) -> None:
    store.commit(Batch())
    assert store.audit_rows() == []


def test_exception_upsert_counts_attempts(store: Store) -> None:
    store.commit(Batch(exceptions=[problem(1, 0)]))
    (first,) = store.open_exceptions()
    assert (first.attempts, first.status, first.resolution) == (1, "open", "")
    assert first.id > 0
    assert first.first_seen == first.last_tried == first.at == at(0)
    retry_at = at(30)
    store.commit(
        Batch(
            exceptions=[
                problem(1, 10, version="v2", error="503 from target", retryable=True,
                        next_try_at=retry_at, field="target", hint="retried"),
                problem(2, 10, kind="held", waiting_on="stripe:customer:cus_1", error="w"),
            ]
        )
    )  # fmt: skip
    again = store.get_exception(first.id)
    assert again is not None
    assert (again.attempts, again.version, again.error, again.retryable) == (
        2,
        "v2",
        "503 from target",
        True,
    )
    assert (again.field, again.hint, again.next_try_at) == ("target", "retried", retry_at)
    assert again.first_seen == at(0)
    assert again.last_tried == at(10)
    assert [e.record_key for e in store.open_exceptions()] == [
        "stripe:invoice:in_1",
        "stripe:invoice:in_2",
    ]
    assert store.open_exceptions(flow="payments") == []
    assert len(store.exceptions_for("stripe:invoice:in_1")) == 1


def test_closing_then_failing_again_opens_a_new_row(store: Store) -> None:
    store.commit(Batch(exceptions=[problem(1, 0)]))
    store.commit(Batch(closed_exceptions=[("invoices", "stripe:invoice:in_1", "synced in run 2")]))
    assert store.open_exceptions() == []
    (closed,) = store.exceptions_for("stripe:invoice:in_1")
    assert (closed.status, closed.resolution) == ("closed", "synced in run 2")
    store.commit(Batch(exceptions=[problem(1, 20)]))
    old, new = store.exceptions_for("stripe:invoice:in_1")
    assert (old.status, new.status, new.attempts, new.first_seen) == (
        "closed",
        "open",
        1,
        at(20),
    )


def test_fail_then_close_in_one_batch_leaves_it_closed(store: Store) -> None:
    store.commit(
        Batch(
            exceptions=[problem(1, 0)],
            closed_exceptions=[("invoices", "stripe:invoice:in_1", "synced")],
        )
    )
    assert store.open_exceptions() == []


def test_held_waiting_on(store: Store) -> None:
    customer = "stripe:customer:cus_1"
    store.commit(
        Batch(
            exceptions=[
                problem(1, 0, kind="held", waiting_on=customer, error="waits"),
                problem(2, 0, kind="held", waiting_on="stripe:customer:cus_2", error="waits"),
                problem(3, 0),
            ]
        )
    )
    assert [e.record_key for e in store.held_waiting_on([customer])] == ["stripe:invoice:in_1"]
    assert len(store.held_waiting_on([customer, "stripe:customer:cus_2"])) == 2
    assert store.held_waiting_on([]) == []
    store.commit(Batch(closed_exceptions=[("invoices", "stripe:invoice:in_1", "released")]))
    assert store.held_waiting_on([customer]) == []


def test_dismiss_exception_writes_an_audit_row(store: Store) -> None:
    store.commit(Batch(exceptions=[problem(1, 0, kind="conflict")]))
    (row,) = store.open_exceptions()
    store.dismiss_exception(row.id, actor="ana", reason="corrected by hand in the ledger")
    dismissed = store.get_exception(row.id)
    assert dismissed is not None
    assert (dismissed.status, dismissed.resolution) == (
        "dismissed",
        "corrected by hand in the ledger",
    )
    assert store.open_exceptions() == []
    (audit,) = store.audit_rows(record_key="stripe:invoice:in_1")
    assert (audit.actor, audit.action) == ("ana", "dismissed")
    assert audit.diff["resolution"] == ["", "corrected by hand in the ledger"]
    with pytest.raises(StoreError, match="is dismissed, not open"):
        store.dismiss_exception(row.id, actor="ana", reason="twice")
    with pytest.raises(StoreError, match="no exception 999"):
        store.dismiss_exception(999, actor="ana", reason="?")
    assert len(store.audit_rows()) == 1
    assert store.verify_audit().ok


def test_open_store_rejects_unknown_urls() -> None:
    with pytest.raises(StoreError, match="unknown state store URL 'mysql://u:\\*\\*\\*@h/db'"):
        open_store("mysql://u:hunter2@h/db")


@pytest.mark.postgres
def test_connection_errors_never_show_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://postgres:hunter2@127.0.0.1:1/test?schema=bb_x")
    assert "hunter2" not in str(caught.value)
    assert "postgres:***@127.0.0.1:1" in str(caught.value)
    assert caught.value.__cause__ is None


def test_redact_url() -> None:
    assert _common.redact_url("postgresql://u:p@h:5/db?schema=s&password=q") == (
        "postgresql://u:***@h:5/db?schema=s&password=***"
    )
    assert _common.redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_plain_path_opens_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.db"
    store = open_store(path)
    try:
        assert store.dialect == "sqlite"
        assert path.exists()
    finally:
        store.close()
