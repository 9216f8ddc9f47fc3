"""The rows of monitoring: discrepancies, alert incidents, the counts behind `status` and
`/metrics`, what reading cost a run, and the webhook inbox's figures.

Kept apart from `base.py` (the Store contract and the rows of the record path) so that
neither grows past what one reader takes in; `base` re-exports every name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = [
    "DiscrepancyRow",
    "InboxCounts",
    "IncidentRow",
    "MonitorCounts",
    "RunCost",
    "RunFigures",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscrepancyRow:
    """A reconcile finding as the store keeps it: open while reconcile still finds it."""

    flow: str
    kind: str
    record_key: str
    idempotency_key: str
    owner: str = ""
    fix: str = ""
    detail: str = ""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    status: Literal["open", "resolved"] = "open"
    resolved_at: datetime | None = None
    id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentRow:
    """One alert incident: (rule, subject) open until its condition clears."""

    id: int
    rule: str
    subject: str
    detail: str
    opened_at: datetime
    notified_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_notified_at: datetime | None = None
    status: Literal["open", "resolved"] = "open"


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorCounts:
    """The figures `status` and `/metrics` show, read in a few aggregate queries.

    `posted` is flow -> (records posted, postings); `queue` is (flow, kind) -> (open rows,
    oldest first_seen, retries so far, retryable rows); `attempts` is (flow, outcome) ->
    attempt rows; `last_success` is flow -> finish time of its last finished sync run;
    `figures` is flow -> (runs whose source counted, their figures summed); `last_cost`
    is flow -> its last finished sync run's figures, when its source counted them;
    `inbox` is connection -> its webhook inbox.
    """

    posted: Mapping[str, tuple[int, int]]
    queue: Mapping[tuple[str, str], tuple[int, datetime | None, int, int]]
    attempts: Mapping[tuple[str, str], int]
    last_success: Mapping[str, datetime]
    figures: Mapping[str, tuple[int, RunFigures]] = field(default_factory=dict)
    last_cost: Mapping[str, RunCost] = field(default_factory=dict)
    inbox: Mapping[str, InboxCounts] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFigures:
    """What reading cost a run, as its source counted it (table `run_figures`).

    `rate_limit_waits` counts every sleep for the rate limit: client-side pacing and
    backoffs after an HTTP 429; `rate_limit_wait_seconds` is their total; `throttled`
    counts the 429 answers. Sums of several runs use the same shape.
    """

    requests: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    throttled: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCost:
    """One finished run's figures with its wall time (what the rate-limit alert weighs)."""

    run_id: int
    started_at: datetime
    finished_at: datetime
    figures: RunFigures

    @property
    def duration_seconds(self) -> float:
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxCounts:
    """One connection's webhook inbox: events received, pending, and the newest one.

    `newest_created` is Stripe's `created` (Unix seconds) of the event received last,
    `newest_received_at` when billbridge stored it; their difference is the webhook lag.
    """

    received: int
    pending: int
    oldest_pending_received_at: datetime | None
    newest_received_at: datetime | None
    newest_created: int | None
