"""`billbridge status`: one snapshot of a workspace's health, from the store's counts.

Why one value feeding three surfaces: the CLI table, `--json` and the Prometheus page
(`metrics.render_metrics`) must never disagree, so all three are built from `Status`,
which is built from a handful of aggregate queries (no per-record reads). The alert
rules read the same value.

Two figures need a definition:
- rate-limit waits: every sleep a source took for the other system's rate limit
  (client-side pacing plus backoffs after HTTP 429), counted by the source and kept per
  run (`run_figures`); a flow's `wait_percent` is its last finished sync run's waiting
  seconds over that run's wall time (started to finished).
- webhook lag: for the event a connection received last, the time between Stripe's
  `created` (when Stripe generated the event) and when billbridge stored it in the
  inbox; it grows when Stripe's deliveries are delayed or retried. How long billbridge
  itself has held an event unprocessed is `oldest_pending_age_seconds` (now minus the
  oldest pending event's receipt).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from billbridge.store.base import InboxCounts, Monitor, Queue, RunCost, RunFigures, RunRow, Runs

from .cleanup import Cleanup, cleanup
from .liveness import close_dead_runs


class StatusState(Runs, Monitor, Queue, Protocol):
    """Status reads runs, the queue and the monitor's counts, findings and incidents."""


__all__ = [
    "FlowStatus",
    "Status",
    "WebhookStatus",
    "run_json",
    "wait_percent",
    "workspace_status",
]


@dataclass(slots=True, kw_only=True)
class FlowStatus:
    flow: str
    records: dict[str, int] = field(
        default_factory=lambda: {"synced": 0, "failed": 0, "held": 0, "conflict": 0}
    )
    postings: int = 0
    queue_open: int = 0
    queue_oldest: datetime | None = None
    retries: int = 0  # attempts beyond the first, over the open queue rows
    retryable: int = 0  # open rows billbridge will retry by itself
    attempts: dict[str, int] = field(default_factory=dict)  # outcome rows ever written
    discrepancies: dict[str, int] = field(default_factory=dict)
    last_success: datetime | None = None
    figure_runs: int = 0  # runs whose source counted requests and waits
    figures: RunFigures | None = None  # summed over those runs; None: the source counts none
    last_cost: RunCost | None = None  # the last finished sync run's, when counted
    last_run: RunRow | None = None  # the flow's latest run (dry runs aside)
    # its recent runs that did not finish: crashed (process died), failed, stopped
    runs_not_finished: list[RunRow] = field(default_factory=list)

    def rate_limit_json(self) -> dict[str, Any] | None:
        if self.figures is None:
            return None
        last = self.last_cost
        return {
            "runs": self.figure_runs,
            **_figures_json(self.figures),
            "last_run": None
            if last is None
            else {
                "run": last.run_id,
                "duration_seconds": round(last.duration_seconds, 3),
                **_figures_json(last.figures),
                "wait_percent": _round(wait_percent(last)),
            },
        }

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "records": self.records,
            "postings": self.postings,
            "queue": {"open": self.queue_open, "oldest_age_seconds": _age(self.queue_oldest, now)},
            "retries": self.retries,
            "retryable": self.retryable,
            "attempts": self.attempts,
            "discrepancies": self.discrepancies,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_success_age_seconds": _age(self.last_success, now),
            "rate_limit": self.rate_limit_json(),
            "last_run": None if self.last_run is None else run_json(self.last_run),
            "runs_not_finished": [run_json(r) for r in self.runs_not_finished],
        }


def run_json(run: RunRow) -> dict[str, Any]:
    """One run as `status` and the daily report show it: how it ended, and why."""
    return {
        "run": run.id,
        "kind": run.kind,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error or None,
    }


def _figures_json(f: RunFigures) -> dict[str, Any]:
    return {
        "waits": f.rate_limit_waits,
        "wait_seconds": round(f.rate_limit_wait_seconds, 3),
        "throttled": f.throttled,
        "requests": f.requests,
    }


def wait_percent(cost: RunCost) -> float | None:
    """Percent of a run's wall time spent waiting for the rate limit (None: no duration)."""
    duration = cost.duration_seconds
    if duration <= 0:
        return None
    return 100.0 * cost.figures.rate_limit_wait_seconds / duration


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(slots=True, kw_only=True)
class WebhookStatus:
    """One connection's webhook inbox (see the module docstring for the lag's definition)."""

    connection: str
    received: int = 0
    pending: int = 0
    oldest_pending: datetime | None = None  # when the oldest pending event was received
    last_received: datetime | None = None
    lag_seconds: float | None = None

    @classmethod
    def of(cls, connection: str, counts: InboxCounts) -> WebhookStatus:
        lag = None
        if counts.newest_received_at is not None and counts.newest_created is not None:
            lag = max(0.0, counts.newest_received_at.timestamp() - counts.newest_created)
        return cls(
            connection=connection,
            received=counts.received,
            pending=counts.pending,
            oldest_pending=counts.oldest_pending_received_at,
            last_received=counts.newest_received_at,
            lag_seconds=lag,
        )

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "received": self.received,
            "pending": self.pending,
            "oldest_pending_age_seconds": _age(self.oldest_pending, now),
            "lag_seconds": _round(self.lag_seconds),
            "last_received": self.last_received.isoformat() if self.last_received else None,
        }


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round(max(0.0, (now - at).total_seconds()), 3)


@dataclass(slots=True, kw_only=True)
class Status:
    at: datetime
    flows: dict[str, FlowStatus]
    incidents_open: dict[str, int]  # alert rule -> open incidents
    webhooks: dict[str, WebhookStatus] = field(default_factory=dict)  # by connection
    cleanup: Cleanup | None = None  # today's estimated clean-up time, and its trend

    @property
    def queue_open(self) -> int:
        return sum(f.queue_open for f in self.flows.values())

    @property
    def queue_oldest(self) -> datetime | None:
        times = [f.queue_oldest for f in self.flows.values() if f.queue_oldest]
        return min(times) if times else None

    def discrepancies(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for f in self.flows.values():
            for kind, n in f.discrepancies.items():
                total[kind] = total.get(kind, 0) + n
        return total

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "flows": {name: f.as_json(self.at) for name, f in sorted(self.flows.items())},
            "queue": {
                "open": self.queue_open,
                "oldest_age_seconds": _age(self.queue_oldest, self.at),
            },
            "discrepancies": self.discrepancies(),
            "webhooks": {name: w.as_json(self.at) for name, w in sorted(self.webhooks.items())},
            "alerts_open": self.incidents_open,
            "cleanup": self.cleanup.as_json() if self.cleanup is not None else None,
        }


def workspace_status(
    store: StatusState,
    *,
    flows: Iterable[str] = (),
    now: datetime | None = None,
    trend_days: int = 1,
) -> Status:
    """Every figure `status` shows; flows named in the workspace appear even when idle.

    `trend_days`: how many days of clean-up estimates to rebuild (1: today's only, as a
    scrape or an alert check needs; `billbridge status` asks for 30).
    """
    close_dead_runs(store)  # a run whose process died shows as crashed, not running
    now = now or datetime.now(UTC)
    counts = store.monitor_counts()
    result: dict[str, FlowStatus] = {name: FlowStatus(flow=name) for name in flows}

    def of(name: str) -> FlowStatus:
        if name not in result:
            result[name] = FlowStatus(flow=name)
        return result[name]

    for name, (records, postings) in counts.posted.items():
        of(name).records["synced"] = records
        of(name).postings = postings
    for (name, kind), (n, oldest, retries, retryable) in counts.queue.items():
        f = of(name)
        f.records[kind] = f.records.get(kind, 0) + n
        f.queue_open += n
        f.retries += retries
        f.retryable += retryable
        if oldest is not None and (f.queue_oldest is None or oldest < f.queue_oldest):
            f.queue_oldest = oldest
    for (name, outcome), n in counts.attempts.items():
        of(name).attempts[outcome] = n
    for name, at in counts.last_success.items():
        of(name).last_success = at
    for name, (runs, figures) in counts.figures.items():
        of(name).figure_runs = runs
        of(name).figures = figures
    for name, cost in counts.last_cost.items():
        of(name).last_cost = cost
    for f in list(result.values()):
        _runs(store, f)
    for row in store.open_discrepancies():
        f = of(row.flow)
        f.discrepancies[row.kind] = f.discrepancies.get(row.kind, 0) + 1
    incidents: dict[str, int] = {}
    for incident in store.pending_incidents():
        if incident.status == "open":
            incidents[incident.rule] = incidents.get(incident.rule, 0) + 1
    webhooks = {name: WebhookStatus.of(name, c) for name, c in counts.inbox.items()}
    return Status(
        at=now, flows=result, incidents_open=incidents, webhooks=webhooks,
        cleanup=cleanup(store, now=now, days=trend_days),
    )  # fmt: skip


_UNFINISHED = frozenset({"crashed", "failed", "stopped"})
_RECENT_RUNS = 20


def _runs(store: StatusState, f: FlowStatus) -> None:
    """The flow's latest run, and those of its recent runs that did not finish."""
    runs = [r for r in store.list_runs(flow=f.flow, limit=_RECENT_RUNS) if r.kind != "dry-run"]
    f.last_run = runs[0] if runs else None
    f.runs_not_finished = [r for r in runs if r.status in _UNFINISHED]
