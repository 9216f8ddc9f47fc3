"""A run that ends by an exception other than a connector's fatal error is closed, not left
`running` (issue 13, finding 6), on both stores.

`BuggyTarget` wraps the real Beancount target and raises a plain `RuntimeError` (what a
bug in a connector raises) on its third write: a fake fault, named so, because no real
component raises one on purpose. Its message quotes a customer, as a careless error
message would; the run's row must name the exception and where it was raised, never
the message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg
import pytest

from billbridge.config import load_workspace
from billbridge.connectors.base import TargetConnector, Written
from billbridge.connectors.beancount import posted_keys
from billbridge.domain import JournalEntry
from billbridge.engine.liveness import close_dead_runs
from billbridge.engine.run import sync_flow
from billbridge.store import Store, StoreError, open_store
from billbridge.store._postgres import PostgresStore
from billbridge.wiring import build_flow

from ...e2e.conftest import make_workspace
from ...e2e.test_sync_flow import expected_facets


class BuggyTarget:
    def __init__(self, real: TargetConnector, fail_at: int, fault: object = None) -> None:
        self.real = real
        self.name = real.name
        self.fail_at = fail_at
        self.fault = fault
        self.writes = 0

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        self.writes += 1
        if self.writes == self.fail_at:
            if callable(self.fault):
                self.fault()
            else:
                raise RuntimeError("could not render the entry of Jane Roe <jane@example.com>")
        return self.real.write(entries)

    def recover(self, committed_position: int) -> Mapping[str, str]:
        return self.real.recover(committed_position)

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        return self.real.find(idempotency_keys)

    def flush(self) -> int:
        return self.real.flush()

    def render(self, entries: Sequence[JournalEntry]) -> str:
        return self.real.render(entries)

    def close(self) -> None:
        self.real.close()


def test_a_run_that_raises_is_finished_failed_with_no_record_data(
    tmp_path: Path, state_url: str
) -> None:
    ws = make_workspace(tmp_path / "ws", state_url, batch_size=10, invoices=20)
    base = build_flow(load_workspace(ws.root), "stripe-to-books")
    flow = dataclasses.replace(base, target=BuggyTarget(base.target, fail_at=3))
    store = open_store(state_url)
    try:
        with pytest.raises(RuntimeError, match="Jane Roe"):  # the exception still goes on
            sync_flow(flow, store)
        (run,) = store.list_runs()
        assert run.status == "failed" and run.finished_at is not None
        assert run.error.startswith("RuntimeError in billbridge/engine/pipeline_write.py:")
        assert "Jane" not in run.error and "example.com" not in run.error
        assert sum(run.counts.values()) > 0  # what it did before the exception is counted
        assert close_dead_runs(store) == []  # a failed run is closed, not crashed later

        again = sync_flow(base, store)
        assert not again.stopped
        assert [r.status for r in store.list_runs()] == ["finished", "failed"]
    finally:
        base.target.close()
        store.close()
    counts = posted_keys(ws.ledger)
    assert set(counts) == expected_facets(ws.records())
    assert set(counts.values()) == {1}


@pytest.mark.postgres
def test_a_run_whose_store_connection_dies_is_crashed_by_the_next(
    tmp_path: Path, pg_url: str
) -> None:
    """The exception is the store's own (its connection was terminated mid-run), so the
    run cannot be finished as failed; the next run, in this same process, finds it no
    longer running here and marks it crashed."""
    ws = make_workspace(tmp_path / "ws", pg_url, batch_size=10, invoices=20)
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    backend = store._conn.info.backend_pid

    def terminate() -> None:
        with psycopg.connect(pg_url.partition("?")[0], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

    base = build_flow(load_workspace(ws.root), "stripe-to-books")
    flow = dataclasses.replace(base, target=BuggyTarget(base.target, fail_at=15, fault=terminate))
    try:
        with pytest.raises(StoreError, match=r"terminat|closed|connection"):
            sync_flow(flow, store)
    finally:
        store.close()
    fresh: Store = open_store(pg_url)
    try:
        (stuck,) = fresh.list_runs()
        assert stuck.status == "running"
        sync_flow(base, fresh)
        crashed, finished = sorted(fresh.list_runs(), key=lambda r: r.id)
        assert (crashed.status, finished.status) == ("crashed", "finished")
        assert "this process no longer runs it" in crashed.error
    finally:
        base.target.close()
        fresh.close()
    counts = posted_keys(ws.ledger)
    assert set(counts) == expected_facets(ws.records())
    assert set(counts.values()) == {1}
