"""The worker on PostgreSQL: procrastinate jobs, so several machines share the work.

Why procrastinate: the jobs live in the same database as the state, a worker takes one
with `SKIP LOCKED`, and two features do what a hand-written loop would get wrong:
- every job of a flow carries the lock `flow:<name>`; procrastinate runs at most one job
  per lock at a time, so two workers never drain or sync one flow at once;
- a queueing lock per (job, flow) keeps at most one job of a kind waiting, so a burst of
  webhooks or a slow sync never piles up jobs.
`billbridge.tick` runs every 10 seconds (procrastinate defers a periodic task once per
period for all workers together) and defers the jobs that are due. A worker killed
mid-job would keep its flow's lock for good; every worker beats (procrastinate's
heartbeat) and runs again the jobs of a worker silent for `worker.stalled_after`
(`_stalled`), so another one takes the flow over.

The App is defined here, in a module (procrastinate needs the task names importable);
the connector is only set by `run_queue`, from the workspace's state URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions as procrastinate_errors
from procrastinate.schema import SchemaManager

from billbridge.config import Workspace
from billbridge.store._postgres import split_schema

from ._jobs import DRAIN, RECOGNIZE, SYNC, JobResult, due_now, run_job
from ._stalled import retry_stalled, watch_stalled

__all__ = ["QUEUE", "app", "defer_drain", "defer_due", "opened", "run_queue"]

QUEUE = "billbridge"
_TASKS = {
    DRAIN: "billbridge.drain-inbox",
    SYNC: "billbridge.sync",
    RECOGNIZE: "billbridge.recognize",
}
_SCHEMA_LOCK = 0x62696C6C  # "bill": one worker at a time installs procrastinate's tables

app = procrastinate.App(connector=procrastinate.PsycopgConnector())


class _Context:
    """What the tasks of this worker process need: set once by `run_queue`."""

    workspace: Workspace | None = None
    report: Callable[[JobResult], None] = staticmethod(lambda _result: None)


def _run(job: str, flow: str) -> dict[str, Any]:
    workspace = _Context.workspace
    if workspace is None:
        raise RuntimeError("billbridge jobs run only inside `billbridge worker`")
    with _flow_lock(workspace, flow) as held:
        if held:
            result = run_job(workspace, job, flow)
        else:
            result = JobResult(
                job=job, flow=flow,
                note="not run: the flow is running in another worker (a job taken for "
                "stalled that was still alive); that run does the work",
            )  # fmt: skip
    _Context.report(result)
    return result.as_json()


@contextlib.contextmanager
def _flow_lock(workspace: Workspace, flow: str) -> Iterator[bool]:
    """A PostgreSQL session lock on the flow for the job's length: True if this job has it.

    procrastinate's job lock is what normally keeps one flow in one place; this one
    holds even if a job was wrongly taken for stalled (its worker alive but silent),
    and it dies with the connection, so a killed worker never keeps it.
    """
    conninfo, kwargs = _connection(workspace)
    _, schema = split_schema(workspace.state_url())
    digest = hashlib.sha256(f"billbridge-flow:{schema}:{flow}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with psycopg.connect(conninfo, autocommit=True, **kwargs) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        yield bool(row and row[0])


@app.task(name=_TASKS[DRAIN], queue=QUEUE)
def _drain_task(flow: str) -> dict[str, Any]:
    return _run(DRAIN, flow)


@app.task(name=_TASKS[SYNC], queue=QUEUE)
def _sync_task(flow: str) -> dict[str, Any]:
    return _run(SYNC, flow)


@app.task(name=_TASKS[RECOGNIZE], queue=QUEUE)
def _recognize_task(flow: str) -> dict[str, Any]:
    return _run(RECOGNIZE, flow)


async def _defer(job: str, flow: str, *, skip_running: bool) -> bool:
    """Defer one job of a flow under its locks; False when one already waits (or runs)."""
    queueing_lock = f"{job}:{flow}"
    if skip_running:
        # The queueing lock only covers waiting jobs; one that is running has not yet
        # started its run in the store, so the store alone would call it due again.
        active = await app.connector.execute_query_one_async(
            "SELECT count(*) AS n FROM procrastinate_jobs"
            " WHERE queueing_lock = %(lock)s AND status IN ('todo', 'doing')",
            lock=queueing_lock,
        )
        if active["n"]:
            return False
    task = app.configure_task(
        name=_TASKS[job], lock=f"flow:{flow}", queueing_lock=queueing_lock, queue=QUEUE
    )
    try:
        await task.defer_async(flow=flow)
    except procrastinate_errors.AlreadyEnqueued:
        return False
    return True


async def defer_due(workspace: Workspace) -> list[tuple[str, str]]:
    """Defer every due job (those already waiting or running are skipped)."""
    due = await asyncio.to_thread(due_now, workspace)
    return [(job, flow) for job, flow in due if await _defer(job, flow, skip_running=True)]


async def defer_drain(flow: str) -> bool:
    """A drain of `flow`'s inbox, for `serve --webhooks-to-workers` after it stored an
    event. A drain already running may have passed the new event: this one waits for it."""
    return await _defer(DRAIN, flow, skip_running=False)


@app.periodic(cron="* * * * * */10", periodic_id="billbridge-tick")  # every 10 s
@app.task(name="billbridge.tick", queue=QUEUE)
async def _tick(timestamp: int) -> None:
    if _Context.workspace is not None:
        await defer_due(_Context.workspace)


def _connection(workspace: Workspace) -> tuple[str, dict[str, Any]]:
    conninfo, schema = split_schema(workspace.state_url())
    return conninfo, ({"options": f"-c search_path={schema}"} if schema else {})


def install_schema(workspace: Workspace) -> bool:
    """Create procrastinate's tables in the state database once; True if it did now."""
    conninfo, kwargs = _connection(workspace)
    with psycopg.connect(conninfo, autocommit=True, **kwargs) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
            if row is not None and row[0]:
                return False
            conn.execute(SchemaManager.get_schema())
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


def _connector(workspace: Workspace, max_size: int) -> procrastinate.PsycopgConnector:
    conninfo, kwargs = _connection(workspace)
    return procrastinate.PsycopgConnector(
        conninfo=conninfo, kwargs=kwargs, min_size=1, max_size=max_size
    )


@asynccontextmanager
async def opened(workspace: Workspace, *, max_size: int = 4) -> AsyncIterator[None]:
    """procrastinate's App on the workspace's state database, open for the block (its
    tables created first if this is the first worker or server to need them)."""
    await asyncio.to_thread(install_schema, workspace)
    with app.replace_connector(_connector(workspace, max_size)):
        async with app.open_async():
            yield


def run_queue(
    workspace: Workspace,
    *,
    once: bool,
    concurrency: int,
    report: Callable[[JobResult], None],
) -> list[JobResult]:
    """Run a procrastinate worker on the state database until stopped (or the queue is
    empty, with `once`: then the due jobs are deferred first)."""
    results: list[JobResult] = []

    def collect(result: JobResult) -> None:
        results.append(result)
        report(result)

    _Context.workspace, _Context.report = workspace, collect
    stalled_after = float(workspace.worker.stalled_seconds)

    async def main() -> None:
        async with opened(workspace, max_size=concurrency + 3):
            manager = app.job_manager
            if once:
                await defer_due(workspace)
                for result in await retry_stalled(
                    manager, queue=QUEUE, stalled_after=stalled_after
                ):
                    collect(result)
            watcher = asyncio.create_task(
                watch_stalled(manager, queue=QUEUE, stalled_after=stalled_after, report=collect)
            )
            try:
                await app.run_worker_async(
                    queues=[QUEUE],
                    wait=not once,
                    concurrency=concurrency,
                    install_signal_handlers=not once,
                    delete_jobs="successful",
                    # beat four times per `stalled_after`: one late beat is not a death
                    update_heartbeat_interval=stalled_after / 4,
                    stalled_worker_timeout=stalled_after,
                )
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    try:
        asyncio.run(main())
    finally:
        _Context.workspace = None
    return results
