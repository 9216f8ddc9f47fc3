"""The worker on the embedded store (SQLite): one process, a loop over the due jobs.

Why not procrastinate here: it runs on PostgreSQL only, and a SQLite workspace lives
on one machine, so one worker is all there is. An exclusive lock file next to the
state file makes a second worker on the same workspace refuse to start, instead of
both draining the same inbox.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from billbridge.config import Workspace

from ._jobs import JobResult, due_now, run_job

__all__ = ["WorkerBusyError", "run_local"]


class WorkerBusyError(RuntimeError):
    """Another worker already runs on this workspace's state file."""


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkerBusyError(
                f"another billbridge worker holds {path}: one worker per SQLite workspace "
                "(stop the other one, or move the state to PostgreSQL to run several)"
            ) from None
        yield
    finally:
        os.close(fd)  # closing drops the lock


def run_local(
    workspace: Workspace,
    *,
    lock_path: Path,
    once: bool,
    poll_seconds: float,
    stop: threading.Event,
    report: Callable[[JobResult], None],
) -> list[JobResult]:
    """Run due jobs every `poll_seconds` until `stop` is set (or once, with `once`)."""
    results: list[JobResult] = []
    with _exclusive(lock_path):
        while not stop.is_set():
            for job, flow in due_now(workspace):
                result = run_job(workspace, job, flow)
                results.append(result)
                report(result)
                if stop.is_set():
                    break
            if once:
                break
            stop.wait(poll_seconds)
    return results
