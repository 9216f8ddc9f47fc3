"""`billbridge worker`: drain webhook inboxes and run scheduled syncs, until stopped.

A thin shell over `billbridge.worker`: the embedded store (SQLite) gets the local loop,
PostgreSQL gets procrastinate. Each job's line (or JSON object, with `--json`, one per
line so a log collector can read them as they come; with `--once --json`, one document
at the end) names the job, the flow, its runs
and its counts; after every job the audit chain's head is anchored (when it moved) and
the alert rules are checked, as after `sync`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import orjson
import typer

from billbridge.config import Workspace
from billbridge.wiring import open_workspace_store
from billbridge.worker import JobResult, WorkerBusyError, run_local

from ._common import JsonOpt, WorkspaceOpt, anchor_after, emit, fail, opened, out
from .monitor import run_alerts

__all__ = ["worker_cmd"]


def _reporter(ws: Workspace, *, as_json: bool, lines: bool) -> Callable[[JobResult], None]:
    """Print each job as it ends (a JSON line with `lines`), then check the alert rules."""
    lock = threading.Lock()  # procrastinate runs jobs in threads: one line at a time

    def report(result: JobResult) -> None:
        with lock:
            if lines:
                print(orjson.dumps(result.as_json()).decode(), flush=True)
            elif not as_json and result.note:
                out.print(f"{result.job:<11} {result.flow}  {result.note}", highlight=False)
            elif not as_json:
                counts = ", ".join(f"{n} {k}" for k, n in result.counts.items() if n) or "nothing"
                runs = ",".join(map(str, result.runs)) or "-"
                status = f" [red]stopped: {result.stopped}[/]" if result.stopped else ""
                out.print(
                    f"{result.job:<11} {result.flow}  run {runs}: {counts}{status}",
                    highlight=False,
                )
            store = open_workspace_store(ws)
            try:
                anchor_after(ws, store)  # before the alerts, which carry the head
                run_alerts(ws, store, quiet=as_json)
            finally:
                store.close()

    return report


def worker_cmd(
    once: Annotated[
        bool, typer.Option("--once", help="Run what is due now, then exit (for cron).")
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="Seconds between checks (SQLite).")
    ] = 10.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=32, help="Jobs at once (PostgreSQL).")
    ] = 2,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Drain every webhook inbox and sync each flow whose `every:` has passed.

    On PostgreSQL any number of workers share the jobs (procrastinate), one flow never
    runs in two places at once, and the job of a worker silent for `worker.stalled_after`
    (killed, its machine gone) is run again by another; on SQLite one worker runs per
    workspace.
    Exit code with --once: 1 if a job left failed records or conflicts, else 0.
    """
    with opened(workspace, as_json) as (ws, store):
        postgres = store.dialect == "postgres"
    # --once --json prints one document at the end; a long-running worker, JSON lines.
    report = _reporter(ws, as_json=as_json, lines=as_json and not once)
    if postgres:
        from billbridge.worker._queue import run_queue  # noqa: PLC0415 - procrastinate only here

        results = run_queue(ws, once=once, concurrency=concurrency, report=report)
    else:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        lock_path = Path(ws.state_url().removeprefix("sqlite:///") + ".worker.lock")
        try:
            results = run_local(
                ws, lock_path=lock_path, once=once, poll_seconds=poll, stop=stop, report=report
            )
        except WorkerBusyError as exc:
            fail(str(exc), as_json=as_json)
    if once and as_json:
        emit({"jobs": [r.as_json() for r in results]})
    elif once and not results:
        out.print("nothing due", highlight=False)
    if any(r.needs_person for r in results):
        raise typer.Exit(1)
