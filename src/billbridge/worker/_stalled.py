"""Jobs of a dead worker: found by its silence, run again by a live one.

Why: a worker killed with SIGKILL (or whose machine vanished) leaves its job `doing`
for good, and with it the job's lock `flow:<name>`: procrastinate runs no other job of
that flow while the lock is held, so the flow stops, silently, until someone looks in
the database. procrastinate leaves this to the application: every worker sends a
heartbeat, and `JobManager.get_stalled_jobs` lists the `doing` jobs of workers whose
heartbeat is older than a given age. Each billbridge worker checks for them every
quarter of `worker.stalled_after` and sends each back to `todo`, so a live worker runs
it again (a sync or a drain is safe to run again: its writes are found by idempotency
key, see engine/run.py).

When a job of the same kind already waits (its queueing lock is taken), procrastinate
refuses to requeue the stalled one; the waiting job does the same work, so the stalled
one is closed as `failed`, which frees the flow's lock for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from procrastinate import exceptions as procrastinate_errors
from procrastinate.jobs import Status
from procrastinate.manager import JobManager

from ._jobs import JobResult

__all__ = ["TAKEOVER", "retry_stalled", "watch_stalled"]

TAKEOVER = "takeover"
_log = logging.getLogger(__name__)


async def retry_stalled(
    manager: JobManager, *, queue: str, stalled_after: float
) -> list[JobResult]:
    """Send every job of a worker silent for `stalled_after` seconds back to the queue."""
    taken: list[JobResult] = []
    stalled = await manager.get_stalled_jobs(queue=queue, seconds_since_heartbeat=stalled_after)
    for job in stalled:
        assert job.id is not None  # a job read from the database has its id
        kind = job.task_name.removeprefix("billbridge.")
        flow = str(job.task_kwargs.get("flow", ""))
        why = f"{kind} job {job.id} of a worker silent for over {stalled_after:g} s"
        try:
            await manager.retry_job(job)
            note = f"{why}: queued again, a live worker runs it now"
        except procrastinate_errors.ConnectorException:
            if await manager.get_job_status_async(job.id) != Status.DOING:
                continue  # another worker took it over first
            await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
            note = f"{why}: closed, a waiting {kind} job of the flow does its work"
        _log.warning("%s", note)
        taken.append(JobResult(job=TAKEOVER, flow=flow, note=note))
    return taken


async def watch_stalled(
    manager: JobManager,
    *,
    queue: str,
    stalled_after: float,
    report: Callable[[JobResult], None],
) -> None:
    """`retry_stalled` every quarter of `stalled_after` (at least every second), forever."""
    every = max(1.0, stalled_after / 4)
    while True:
        try:
            results = await retry_stalled(manager, queue=queue, stalled_after=stalled_after)
        except procrastinate_errors.ConnectorException:
            _log.warning("could not look for stalled jobs", exc_info=True)
            results = []
        for result in results:
            await asyncio.to_thread(report, result)  # the reporter does store I/O
        await asyncio.sleep(every)
