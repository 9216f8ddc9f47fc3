"""`billbridge status`: one snapshot of a workspace's health, from the store's counts.

Why one value feeding three surfaces: the CLI table, `--json` and the Prometheus page
(`metrics.render_metrics`) must never disagree, so all three are built from `Status`,
which is built from a handful of aggregate queries (no per-record reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from billbridge.store.base import Store

__all__ = ["FlowStatus", "Status", "workspace_status"]


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
        }


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round(max(0.0, (now - at).total_seconds()), 3)


@dataclass(slots=True, kw_only=True)
class Status:
    at: datetime
    flows: dict[str, FlowStatus]
    incidents_open: dict[str, int]  # alert rule -> open incidents

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
            "alerts_open": self.incidents_open,
        }


def workspace_status(
    store: Store, *, flows: Iterable[str] = (), now: datetime | None = None
) -> Status:
    """Every figure `status` shows; flows named in the workspace appear even when idle."""
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
    for row in store.open_discrepancies():
        f = of(row.flow)
        f.discrepancies[row.kind] = f.discrepancies.get(row.kind, 0) + 1
    incidents: dict[str, int] = {}
    for incident in store.pending_incidents():
        if incident.status == "open":
            incidents[incident.rule] = incidents.get(incident.rule, 0) + 1
    return Status(at=now, flows=result, incidents_open=incidents)
