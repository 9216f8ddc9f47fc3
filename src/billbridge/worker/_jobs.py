"""The jobs a worker runs for one flow: drain its webhook inbox, sync it when due, and
recognize its deferred revenue once a month is over (`recognize: monthly`).

Why shared: the local loop (SQLite) and procrastinate (PostgreSQL) run exactly these
functions, so a job behaves the same wherever it runs. Each job opens its own store
connection and its own target and closes them, because a job may run in any thread of
any worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from billbridge.config import StripeConnection, Workspace
from billbridge.connectors.registry import spec_for
from billbridge.engine.deferred import recognized_through
from billbridge.engine.holds import has_expired_holds
from billbridge.engine.inbox import drain_inbox
from billbridge.engine.recognize import recognize_flow
from billbridge.engine.run import sync_flow
from billbridge.mapping.model import load_mapping
from billbridge.store.base import Inbox, Queue, Records, Runs
from billbridge.wiring import flows, open_workspace_store


class JobsState(Runs, Inbox, Queue, Records, Protocol):
    """Which jobs are due: the flows' last runs, the webhook inbox, holds and cursors."""


__all__ = [
    "ACTOR",
    "DRAIN",
    "RECOGNIZE",
    "SYNC",
    "JobResult",
    "due_jobs",
    "due_now",
    "month_closed",
    "run_job",
]

ACTOR = "worker"
DRAIN = "drain-inbox"
SYNC = "sync"
RECOGNIZE = "recognize"
_SYNC_KINDS = frozenset({"live", "backfill"})


@dataclass(slots=True, kw_only=True)
class JobResult:
    job: str
    flow: str
    runs: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    stopped: str = ""
    note: str = ""  # what happened besides runs (a job of a dead worker taken over)

    @property
    def failed(self) -> bool:
        return bool(self.counts.get("failed")) or bool(self.stopped)

    @property
    def needs_person(self) -> bool:
        """A conflict waits on a person as surely as a failure: cron must hear of both."""
        return self.failed or bool(self.counts.get("conflict"))

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"job": self.job, "flow": self.flow, "runs": self.runs}
        data["counts"] = self.counts
        if self.stopped:
            data["stopped"] = self.stopped
        if self.note:
            data["note"] = self.note
        return data


def _webhook_flows(workspace: Workspace) -> list[str]:
    """Flows whose source connection receives webhooks (Stripe's, or any signing connector's)."""
    return [
        flow.name
        for flow in workspace.flows
        if getattr(conn := workspace.connections[flow.source], "webhook_secret", None) is not None
        and (isinstance(conn, StripeConnection) or spec_for(conn).webhook is not None)
    ]


def _sync_due(workspace: Workspace, store: JobsState, name: str, now: datetime) -> bool:
    every = workspace.flow(name).every_seconds
    if every is None:
        return False
    last = next((r for r in store.list_runs(flow=name, limit=20) if r.kind in _SYNC_KINDS), None)
    return last is None or (now - last.started_at).total_seconds() >= every


def _holds_due(workspace: Workspace, store: JobsState, name: str, now: datetime) -> bool:
    """A hold past the flow's `hold_timeout`: a drain times it out even with no event."""
    timeout = timedelta(seconds=workspace.flow(name).hold_timeout_seconds)
    return has_expired_holds(store, flow=name, timeout=timeout, now=now)


def month_closed(workspace: Workspace, name: str, now: datetime) -> date:
    """The last day of the month before `now`, in the flow's mapping's time zone."""
    zone = load_mapping(workspace.flow(name).mapping).zone
    return now.astimezone(zone).date().replace(day=1) - timedelta(days=1)


def _recognize_due(workspace: Workspace, store: JobsState, name: str, now: datetime) -> bool:
    if workspace.flow(name).recognize != "monthly":
        return False
    done = recognized_through(store, name)
    return done is None or done < month_closed(workspace, name, now)


def due_jobs(workspace: Workspace, store: JobsState, now: datetime) -> list[tuple[str, str]]:
    """(job, flow) pairs to run now: pending webhook events first, then syncs due, then
    the recognition of each month that has ended since the last one."""
    drains = [
        (DRAIN, name)
        for name in _webhook_flows(workspace)
        if store.inbox_pending(workspace.flow(name).source, flow=name, limit=1)
        or _holds_due(workspace, store, name, now)
    ]
    syncs = [(SYNC, f.name) for f in workspace.flows if _sync_due(workspace, store, f.name, now)]
    recognitions = [
        (RECOGNIZE, f.name)
        for f in workspace.flows
        if _recognize_due(workspace, store, f.name, now)
    ]
    return drains + syncs + recognitions


def due_now(workspace: Workspace) -> list[tuple[str, str]]:
    """`due_jobs` on a store of its own (each worker check opens and closes one)."""
    store = open_workspace_store(workspace)
    try:
        return due_jobs(workspace, store, datetime.now(UTC))
    finally:
        store.close()


def run_job(workspace: Workspace, job: str, flow_name: str) -> JobResult:
    """Run one job to its end; the outcomes, audit rows and exceptions are in the store."""
    result = JobResult(job=job, flow=flow_name)
    store = open_workspace_store(workspace)
    try:
        with flows(workspace, store=store, actor=ACTOR) as lookup:
            flow = lookup(flow_name)
            if job == DRAIN:
                for one in drain_inbox(flow, store, actor=ACTOR):
                    if one.run is not None:
                        result.runs.append(one.run)
                    for outcome, n in one.counts.items():
                        result.counts[outcome] = result.counts.get(outcome, 0) + n
                    result.stopped = one.stopped
            elif job == SYNC:
                run = sync_flow(flow, store, actor=ACTOR)
                result.runs.append(run.run)
                result.counts = dict(run.counts)
                result.stopped = run.stopped
            elif job == RECOGNIZE:
                through = month_closed(workspace, flow_name, datetime.now(UTC))
                done = recognize_flow(flow, store, through=through, actor=ACTOR).result
                result.runs.append(done.run)
                result.counts = dict(done.counts)
                result.stopped = done.stopped
            else:
                raise ValueError(f"unknown worker job {job!r}")
    finally:
        store.close()
    return result
