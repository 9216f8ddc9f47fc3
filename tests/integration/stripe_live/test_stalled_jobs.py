"""`retry_stalled` on real procrastinate tables: a dead worker's job goes back to the
queue, or, when a job of its kind already waits, is closed so that one can run
(issue 13, finding 9). The dead worker is a registered worker whose heartbeat is old.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from procrastinate.jobs import Status

from billbridge.worker import JobResult
from billbridge.worker._queue import QUEUE, _Context, _defer, _flow_lock, _run, app, opened
from billbridge.worker._stalled import retry_stalled

from ._webhooks import webhook_workspace

pytestmark = pytest.mark.postgres
FLOW = "stripe-to-books"


async def _dead_worker_holds_a_drain(*, silent_for: str) -> int:
    """A drain job taken by a worker that then fell silent; returns the job id."""
    manager = app.job_manager
    assert await _defer("drain-inbox", FLOW, skip_running=False)
    worker = await manager.register_worker()
    job = await manager.fetch_job(queues=[QUEUE], worker_id=worker)
    assert job is not None and job.id is not None
    await app.connector.execute_query_async(
        "UPDATE procrastinate_workers SET last_heartbeat = now() - %(age)s::interval"
        " WHERE id = %(id)s",
        age=silent_for,
        id=worker,
    )
    return job.id


async def _scenario(tmp_path: Path, *, another_waits: bool) -> tuple[list[str], dict[int, str]]:
    workspace = webhook_workspace(tmp_path / "ws")
    async with opened(workspace):
        manager = app.job_manager
        stalled = await _dead_worker_holds_a_drain(silent_for="10 minutes")
        assert not await retry_stalled(manager, queue=QUEUE, stalled_after=3600)  # not yet
        if another_waits:  # e.g. `serve` handed a new webhook event over meanwhile
            assert await _defer("drain-inbox", FLOW, skip_running=False)
        taken = await retry_stalled(manager, queue=QUEUE, stalled_after=60)
        assert await retry_stalled(manager, queue=QUEUE, stalled_after=60) == []  # once
        rows = await app.connector.execute_query_all_async(
            "SELECT id, status::text AS status FROM procrastinate_jobs"
            " WHERE task_name = 'billbridge.drain-inbox' ORDER BY id"
        )
        statuses = {int(r["id"]): str(r["status"]) for r in rows}
        assert stalled == min(statuses)
        return [t.note for t in taken if t.flow == FLOW], statuses


def test_a_dead_worker_s_job_is_queued_again(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLBRIDGE_STATE", pg_url)
    notes, statuses = asyncio.run(_scenario(tmp_path, another_waits=False))
    assert list(statuses.values()) == [Status.TODO.value]
    (note,) = notes
    assert "drain-inbox job" in note and "queued again" in note


def test_with_a_waiting_job_of_its_kind_the_dead_one_is_closed(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLBRIDGE_STATE", pg_url)
    notes, statuses = asyncio.run(_scenario(tmp_path, another_waits=True))
    assert list(statuses.values()) == [Status.FAILED.value, Status.TODO.value]
    (note,) = notes
    assert "closed, a waiting drain-inbox job of the flow does its work" in note


def test_a_flow_runs_in_one_worker_even_if_its_job_was_wrongly_retried(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job lock is gone once a live job is taken for stalled; the session lock holds."""
    monkeypatch.setenv("BILLBRIDGE_STATE", pg_url)
    workspace = webhook_workspace(tmp_path / "ws")
    seen: list[JobResult] = []
    monkeypatch.setattr(_Context, "workspace", workspace)
    monkeypatch.setattr(_Context, "report", seen.append)
    with _flow_lock(workspace, FLOW) as first:  # the original job, still running
        assert first
        with _flow_lock(workspace, "another-flow") as other:
            assert other  # one lock per flow
        answer = _run("drain-inbox", FLOW)
    assert "not run: the flow is running in another worker" in answer["note"]
    assert answer["runs"] == [] and seen[0].note == answer["note"]
    ran = _run("drain-inbox", FLOW)  # the lock was released with its connection
    assert "note" not in ran and ran["flow"] == FLOW
