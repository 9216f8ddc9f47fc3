"""The monitoring part of the Store contract (issue 6), on SQLite and PostgreSQL:
reconcile findings keep their first sighting and resolve when gone, incidents open once
per (rule, subject), and the aggregate counts match the rows written."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from billbridge.store import Batch, ExceptionRow, Store, StoreError
from billbridge.store.audit_chain import iso_utc
from billbridge.store.base import DiscrepancyRow, RunFigures

from .conftest import at, raw
from .test_store import posting


def finding(key: str, kind: str = "duplicate_posting", detail: str = "twice") -> DiscrepancyRow:
    return DiscrepancyRow(
        flow="invoices", kind=kind, record_key=key, idempotency_key=f"invoices|{key}|issue",
        owner="books", fix="reverse", detail=detail,
    )  # fmt: skip


def test_findings_keep_first_seen_and_resolve_when_gone(store: Store) -> None:
    store.save_discrepancies("invoices", [finding("a"), finding("b")], at=at(0))
    store.save_discrepancies("invoices", [finding("a", detail="three times")], at=at(30))
    (row,) = store.open_discrepancies(flow="invoices")
    assert (row.record_key, row.detail) == ("a", "three times")
    assert (row.first_seen, row.last_seen) == (at(0), at(30))
    since = store.discrepancies_since(at(0))
    resolved = [r for r in since if r.status == "resolved"]
    assert [(r.record_key, r.resolved_at) for r in resolved] == [("b", at(30))]
    assert store.open_discrepancies(flow="other") == []
    # a finding that comes back after it resolved is a new one, with a new first sighting
    store.save_discrepancies("invoices", [finding("a"), finding("b")], at=at(60))
    by_key = {r.record_key: r.first_seen for r in store.open_discrepancies()}
    assert by_key == {"a": at(0), "b": at(60)}
    assert store.discrepancies_since(at(61)) == []


def test_incident_opens_once_and_resolves(store: Store) -> None:
    first = store.open_incident(rule="queue", subject="invoices", detail="old", at=at(0))
    with pytest.raises(StoreError):
        store.open_incident(rule="queue", subject="invoices", detail="again", at=at(1))
    (row,) = store.pending_incidents()
    assert (row.id, row.status, row.notified_at) == (first, "open", None)
    store.mark_incident(first, notified_at=at(2))
    store.mark_incident(first, resolved_at=at(9))
    (row,) = store.pending_incidents()  # resolved, but its resolution is not sent yet
    assert (row.status, row.notified_at, row.resolved_at) == ("resolved", at(2), at(9))
    store.mark_incident(first, resolved_notified_at=at(10))
    assert store.pending_incidents() == []
    again = store.open_incident(rule="queue", subject="invoices", detail="new", at=at(20))
    assert again != first


def test_monitor_counts_match_the_rows(store: Store) -> None:
    run = store.start_run(flow="invoices", kind="live", actor="t")
    batch = Batch(
        postings=[posting(1, run.id), posting(1, run.id, facet="void"), posting(2, run.id)],
        exceptions=[
            ExceptionRow(
                flow="invoices", record_key=f"stripe:invoice:in_{n}", version="v", kind=kind,
                error="e", at=at(n), retryable=n == 4,
            )
            for n, kind in ((3, "failed"), (4, "failed"), (5, "held"))
        ],
    )  # fmt: skip
    store.commit(batch)
    store.commit(Batch(exceptions=[batch.exceptions[1]]))  # a second attempt at in_4
    store.finish_run(run.id, counts={"synced": 2, "failed": 2}, status="finished")
    store.start_run(flow="invoices", kind="live", actor="t")  # still running: no success
    counts = store.monitor_counts()
    assert counts.posted == {"invoices": (2, 3)}
    assert counts.queue["invoices", "failed"] == (2, at(3), 1, 1)
    assert counts.queue["invoices", "held"] == (1, at(5), 0, 0)
    finished = store.get_run(run.id)
    assert finished is not None and finished.finished_at is not None
    assert counts.last_success == {"invoices": finished.finished_at}
    assert store.posted_since(at(0)) == {"invoices": (2, 3)}
    assert store.posted_since(at(1) + timedelta(seconds=1)) == {}


def test_run_figures_are_kept_with_their_run_and_summed_per_flow(store: Store) -> None:
    first = store.start_run(flow="invoices", kind="backfill", actor="t")
    store.finish_run(
        first.id, counts={}, status="finished",
        figures=RunFigures(requests=120, rate_limit_waits=30, rate_limit_wait_seconds=4.25,
                           throttled=2),
    )  # fmt: skip
    plain = store.start_run(flow="invoices", kind="live", actor="t")
    store.finish_run(plain.id, counts={}, status="finished")  # a source that counts nothing
    last = store.start_run(flow="invoices", kind="live", actor="t")
    store.finish_run(
        last.id, counts={}, status="finished",
        figures=RunFigures(requests=3, rate_limit_waits=1, rate_limit_wait_seconds=0.5),
    )  # fmt: skip
    hook = store.start_run(flow="invoices", kind="webhook", actor="t")
    store.finish_run(hook.id, counts={}, status="finished", figures=RunFigures(requests=1))

    assert store.run_figures(plain.id) is None
    assert store.run_figures(first.id) == RunFigures(
        requests=120, rate_limit_waits=30, rate_limit_wait_seconds=4.25, throttled=2
    )
    counts = store.monitor_counts()
    runs, total = counts.figures["invoices"]
    assert runs == 3
    assert total == RunFigures(
        requests=124, rate_limit_waits=31, rate_limit_wait_seconds=4.75, throttled=2
    )
    # the last finished sync run (a webhook run is not a sync run)
    finished = store.get_run(last.id)
    assert finished is not None and finished.finished_at is not None
    cost = counts.last_cost["invoices"]
    assert (cost.run_id, cost.started_at, cost.finished_at) == (
        last.id, finished.started_at, finished.finished_at,
    )  # fmt: skip
    assert cost.figures.rate_limit_wait_seconds == 0.5
    # a later sync run whose source counted nothing leaves no last-run figures
    again = store.start_run(flow="invoices", kind="live", actor="t")
    store.finish_run(again.id, counts={}, status="finished")
    assert "invoices" not in store.monitor_counts().last_cost


def test_inbox_counts_give_the_newest_events_lag_and_the_oldest_pending(store: Store) -> None:
    for event_id, created, received in (
        ("evt_1", 1000, at(0)), ("evt_2", 1100, at(10)), ("evt_3", 1200, at(20)),
    ):  # fmt: skip
        assert store.inbox_add(event_id=event_id, connection="stripe", type="invoice.updated",
                               object_key=f"stripe:invoice:{event_id}", created=created,
                               payload=b"{}")  # fmt: skip
        with raw(store) as conn:
            stamp = iso_utc(received) if isinstance(conn, sqlite3.Connection) else received
            placeholder = "?" if isinstance(conn, sqlite3.Connection) else "%s"
            conn.execute(
                f"UPDATE stripe_inbox SET received_at = {placeholder} "
                f"WHERE event_id = {placeholder}",
                (stamp, event_id),
            )
    store.inbox_mark("evt_1", "processed")
    inbox = store.monitor_counts().inbox
    assert list(inbox) == ["stripe"]
    counts = inbox["stripe"]
    assert (counts.received, counts.pending) == (3, 2)
    assert counts.oldest_pending_received_at == at(10)
    assert (counts.newest_received_at, counts.newest_created) == (at(20), 1200)
