"""The daily report: what synced, what failed and why, what waits on whom, what reconcile
found and fixed, over a window (the last 24 hours by default), each deferring flow's
deferred-revenue balances against its schedules (engine/deferred_status.py), and the audit
chain's head (its anchor) at the time.

Why a value and not a printout: the CLI prints it, `--json` emits it, `--html` renders it
for an accountant, and a scheduler can mail it; all four show the same figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from billbridge.store.base import Audit, AuditHead, Monitor, Queue, Runs

from .causes import group_causes
from .cleanup import Cleanup
from .cleanup import cleanup as estimate_cleanup
from .deferred_status import DeferredStatus
from .liveness import close_dead_runs
from .words import RecordNamer


class DailyState(Runs, Queue, Monitor, Audit, Protocol):
    """The daily report reads runs, the queue, the monitor's findings and the audit head."""


__all__ = ["DailyReport", "FlowDay", "audit_anchor_json", "daily_report"]


@dataclass(slots=True, kw_only=True)
class FlowDay:
    """One flow over the window. `counts` are the outcomes of the window's runs (a record
    that failed in a run counts even if it was fixed since); `open` is what is still in the
    queue now, the figure `status` and the lists below show."""

    flow: str
    runs: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # outcome -> records, over the runs
    records_posted: int = 0
    postings: int = 0
    stopped: list[str] = field(default_factory=list)  # runs that did not finish, and why
    open: dict[str, int] = field(
        default_factory=lambda: {"failed": 0, "held": 0, "conflict": 0}
    )  # queue rows open now

    def as_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "counts": self.counts,
            "records_posted": self.records_posted,
            "postings": self.postings,
            "stopped": self.stopped,
            "open": self.open,
        }


@dataclass(slots=True, kw_only=True)
class DailyReport:
    since: datetime
    until: datetime
    flows: dict[str, FlowDay]
    failures: list[dict[str, Any]]  # failed records: record, field, why, how to fix
    failure_reasons: dict[str, int]  # field -> open failed rows
    waiting: list[dict[str, Any]]  # held and conflict rows: record, waits on whom
    discrepancies_found: dict[str, int]
    discrepancies_resolved: dict[str, int]
    discrepancies_open: dict[str, int]
    # The audit chain's head when the report was made: a copy of the anchor that lives
    # wherever the report is mailed or filed (compare it with `billbridge audit --verify`).
    audit_head: AuditHead | None = None
    deferred: list[DeferredStatus] = field(default_factory=list)  # flows that defer revenue
    causes: list[dict[str, Any]] = field(default_factory=list)  # the open queue by cause
    cleanup: Cleanup = field(default_factory=lambda: Cleanup(minutes=0))

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "flows": {name: f.as_json() for name, f in sorted(self.flows.items())},
            "cleanup": self.cleanup.as_json(),
            "causes": self.causes,
            "failures": self.failures,
            "failure_reasons": self.failure_reasons,
            "waiting": self.waiting,
            "discrepancies": {
                "found": self.discrepancies_found,
                "resolved": self.discrepancies_resolved,
                "open": self.discrepancies_open,
            },
            "audit_anchor": audit_anchor_json(self.audit_head),
            "deferred": {status.flow: status.as_json() for status in self.deferred},
        }


def audit_anchor_json(head: AuditHead | None) -> dict[str, Any] | None:
    """The chain's head as reports and alerts carry it: {seq, hash}, or None when empty."""
    return None if head is None else {"seq": head.seq, "hash": head.hash}


def daily_report(
    store: DailyState,
    *,
    flows: Sequence[str] = (),
    hours: float = 24,
    now: datetime | None = None,
    limit: int = 200,
    deferred: Sequence[DeferredStatus] = (),
    namer: RecordNamer | None = None,
) -> DailyReport:
    """Gather the window's figures from the store (runs, postings, queue, findings);
    `deferred` are the deferring flows' balances, read from their ledgers by the caller.

    With a `namer`, every record is also named in words (number, customer, amount, date).
    """
    until = now or datetime.now(UTC)
    since = until - timedelta(hours=hours)
    days: dict[str, FlowDay] = {name: FlowDay(flow=name) for name in flows}

    def of(name: str) -> FlowDay:
        return days.setdefault(name, FlowDay(flow=name))

    close_dead_runs(store)  # a run whose process died is reported crashed, not running
    for run in store.list_runs(limit=10_000):
        if run.started_at < since or run.kind == "dry-run":
            continue
        day = of(run.flow)
        day.runs += 1
        for outcome, n in run.counts.items():
            day.counts[outcome] = day.counts.get(outcome, 0) + int(n)
        if run.status != "finished":
            why = f": {run.error}" if run.error else ""
            day.stopped.append(f"run {run.id} ({run.kind}) is {run.status}{why}")
    for name, (records, postings) in store.posted_since(since).items():
        of(name).records_posted, of(name).postings = records, postings
    queue = store.open_exceptions()
    named = namer.words(r.record_key for r in queue) if namer is not None else {}
    words = {k: w.text() for k, w in named.items()}
    for open_row in queue:
        counts = of(open_row.flow).open
        counts[open_row.kind] = counts.get(open_row.kind, 0) + 1
    causes = group_causes(queue, named)
    estimate = estimate_cleanup(store, now=until)
    failed = [row for row in queue if row.kind == "failed"]
    failures = [
        {
            "flow": row.flow,
            "record": row.record_key,
            "words": words.get(row.record_key, ""),
            "field": row.field,
            "why": row.error,
            "fix": row.hint,
            "retryable": row.retryable,
            "since": row.first_seen.isoformat() if row.first_seen else None,
        }
        for row in failed[:limit]
    ]
    waiting = [
        {
            "flow": row.flow,
            "record": row.record_key,
            "words": words.get(row.record_key, ""),
            "kind": row.kind,
            "waits_on": row.waiting_on if row.kind == "held" else "a person",
            "why": row.error,
            "fix": row.hint,
        }
        for row in queue
        if row.kind in {"held", "conflict"}
    ][:limit]
    found: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    for finding in store.discrepancies_since(since):
        if finding.first_seen is not None and finding.first_seen >= since:
            found[finding.kind] += 1
        if finding.resolved_at is not None and finding.resolved_at >= since:
            resolved[finding.kind] += 1
    return DailyReport(
        since=since,
        until=until,
        flows=days,
        failures=failures,
        failure_reasons=dict(Counter(row.field or "(none)" for row in failed)),
        waiting=waiting,
        discrepancies_found=dict(found),
        discrepancies_resolved=dict(resolved),
        discrepancies_open=dict(Counter(row.kind for row in store.open_discrepancies())),
        audit_head=store.audit_head(),
        deferred=list(deferred),
        causes=[c.as_json() for c in causes],
        cleanup=estimate,
    )
