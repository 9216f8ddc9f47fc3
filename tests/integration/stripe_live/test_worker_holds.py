"""The worker times out holds too, with no event and no `every:` (issue 13, finding 3).

A refund arrives by webhook; its charge never does. The drain holds the refund. Once
the hold is older than the flow's `hold_timeout`, the worker's next check finds the flow
due although its inbox is empty, and the drain turns the hold into a failed row saying
what never came. On both stores; the worker's own job functions, no mocks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from billbridge.samples import generate
from billbridge.store import Store
from billbridge.wiring import open_workspace_store
from billbridge.worker._jobs import DRAIN, due_jobs, run_job

from ..store.conftest import raw
from ._webhooks import event, webhook_workspace


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    old = os.environ.get("BILLBRIDGE_STATE")
    os.environ["BILLBRIDGE_STATE"] = url
    try:
        yield url
    finally:
        if old is None:
            del os.environ["BILLBRIDGE_STATE"]
        else:
            os.environ["BILLBRIDGE_STATE"] = old


def _age(store: Store, ago: timedelta) -> None:
    then = store._ts(datetime.now(UTC) - ago)  # type: ignore[attr-defined]
    mark = "?" if store.dialect == "sqlite" else "%s"
    with raw(store) as conn:
        conn.execute(f"UPDATE exceptions SET held_since = {mark} WHERE kind = 'held'", (then,))


def test_the_worker_times_out_a_hold_with_nothing_pending(tmp_path: Path, state_url: str) -> None:
    workspace = webhook_workspace(tmp_path / "ws")
    refund = next(
        o for o in generate(invoices=40, seed=2, api="current") if o["object"] == "refund"
    )
    store = open_workspace_store(workspace)
    try:
        now = int(time.time())
        store.inbox_add(
            event_id="evt_refund", connection="stripe", type="charge.refund.updated",
            object_key=f"stripe:refund:{refund['id']}", created=now,
            payload=event(refund, type="charge.refund.updated", created=now, ident="evt_refund"),
            flows=("stripe-to-books",),
        )  # fmt: skip
        assert due_jobs(workspace, store, datetime.now(UTC)) == [(DRAIN, "stripe-to-books")]
        run_job(workspace, DRAIN, "stripe-to-books")
        (held,) = store.open_exceptions()
        assert held.kind == "held" and held.waiting_on == f"stripe:charge:{refund['charge']}"
        assert due_jobs(workspace, store, datetime.now(UTC)) == []  # nothing to do yet

        _age(store, timedelta(days=3, minutes=1))
        assert due_jobs(workspace, store, datetime.now(UTC)) == [(DRAIN, "stripe-to-books")]
        result = run_job(workspace, DRAIN, "stripe-to-books")
        assert result.counts.get("failed") == 1
        (row,) = store.open_exceptions()
        assert row.kind == "failed" and row.field == "waiting_on"
        assert row.error.startswith(f"waiting for charge {refund['charge']} since ")
        assert "(3 days)" in row.error and "never arrived or never posted" in row.error
        assert due_jobs(workspace, store, datetime.now(UTC)) == []  # timed out once
    finally:
        store.close()
