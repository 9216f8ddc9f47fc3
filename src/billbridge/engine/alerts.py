"""Alerts: rules over the workspace's status, each sent once per incident, then resolved.

Why incidents in the store: `alerts check` runs after every sync and reconcile, from
cron and from several workers; without a record of what was already said, an old queue
row would page someone every five minutes. An incident is (rule, subject), e.g.
(`queue_older_than_hours`, `stripe-to-books`): its first firing opens it and sends one
message; while it keeps firing nothing more is sent; when it stops, one "resolved"
message closes it. A delivery that fails is tried again at the next check.

`evaluate` is pure (status and findings in, firing conditions out); `check_alerts` does
the I/O: store reads and writes, webhook (httpx) and SMTP (smtplib), both injectable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import httpx

from billbridge.alert_config import AlertRules, AlertsConfig
from billbridge.domain import plural
from billbridge.store.base import Audit, AuditHead, DiscrepancyRow, IncidentRow, RunRow

from .daily import audit_anchor_json
from .delivery import Deliver, SmtpFactory
from .status import FlowStatus, Status, StatusState, wait_percent, workspace_status
from .words import RecordNamer


class AlertState(StatusState, Audit, Protocol):
    """Alerts read what status reads, and the audit chain's head they carry."""


__all__ = ["AlertReport", "Firing", "check_alerts", "evaluate", "failure_rate"]

_HOUR: Final = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Firing:
    rule: str
    subject: str
    detail: str


def failure_rate(run: RunRow) -> float | None:
    """Percent of a run's records that failed, or None for a run that saw no records."""
    counts = run.counts
    seen = sum(int(counts.get(k, 0)) for k in ("synced", "failed", "held", "conflict"))
    return None if not seen else 100.0 * int(counts.get("failed", 0)) / seen


def evaluate(
    rules: AlertRules,
    status: Status,
    *,
    last_runs: Mapping[str, RunRow],
    first_runs: Mapping[str, RunRow],
    discrepancies: Iterable[DiscrepancyRow],
    words: Mapping[str, str] | None = None,
) -> list[Firing]:
    """Every (rule, subject) whose condition holds now; `words` names records in details."""
    words = words or {}
    now = status.at
    firing: list[Firing] = []
    for name, flow in sorted(status.flows.items()):
        hours = rules.queue_older_than_hours
        if hours is not None and flow.queue_oldest is not None:
            age = (now - flow.queue_oldest).total_seconds() / _HOUR
            if age > hours:
                firing.append(
                    Firing(
                        rule="queue_older_than_hours",
                        subject=name,
                        detail=f"flow {name}: "
                        f"{plural(flow.queue_open, 'row waits', 'rows wait')} in the exception "
                        f"queue, the oldest for {age:.1f} h (limit {hours:g} h)",
                    )
                )
        run = last_runs.get(name)
        rate = failure_rate(run) if run is not None else None
        limit = rules.failure_rate_percent
        if limit is not None and run is not None and rate is not None and rate > limit:
            firing.append(
                Firing(
                    rule="failure_rate_percent",
                    subject=name,
                    detail=f"flow {name}: run {run.id} failed {rate:.2f}% of its records "
                    f"({run.counts.get('failed', 0)}; limit {limit:g}%)",
                )
            )
        waited = _rate_limit_firing(rules.rate_limit_wait_percent, name, flow)
        if waited is not None:
            firing.append(waited)
        hours = rules.flow_not_succeeded_hours
        if hours is not None:
            since = flow.last_success or (
                first_runs[name].started_at if name in first_runs else None
            )
            if since is not None and (now - since).total_seconds() / _HOUR > hours:
                what = "last succeeded" if flow.last_success else "has not succeeded since"
                firing.append(
                    Firing(
                        rule="flow_not_succeeded_hours",
                        subject=name,
                        detail=f"flow {name} {what} {since:%Y-%m-%d %H:%M} UTC (limit {hours:g} h)",
                    )
                )
    cleanup = _cleanup_firing(rules.cleanup_minutes, status)
    if cleanup is not None:
        firing.append(cleanup)
    for row in discrepancies:
        named = words.get(row.record_key, "")
        detail = f"{named}: {row.detail}" if named else row.detail
        if rules.duplicate_posting and row.kind == "duplicate_posting":
            firing.append(
                Firing(rule="duplicate_posting", subject=row.idempotency_key, detail=detail)
            )
        if rules.number_duplicate and row.kind == "number_duplicate":
            firing.append(
                Firing(rule="number_duplicate", subject=row.idempotency_key, detail=detail)
            )
        hours = rules.status_mismatch_older_than_hours
        if hours is not None and row.kind == "status_mismatch" and row.first_seen is not None:
            age = (now - row.first_seen).total_seconds() / _HOUR
            if age > hours:
                firing.append(
                    Firing(
                        rule="status_mismatch_older_than_hours",
                        subject=row.idempotency_key,
                        detail=f"{detail} (open for {age:.1f} h, limit {hours:g} h)",
                    )
                )
    return firing


def _cleanup_firing(limit: float | None, status: Status) -> Firing | None:
    """The day's estimated clean-up time (from the queue's causes) is above `limit`."""
    estimate = status.cleanup
    if limit is None or estimate is None or estimate.minutes <= limit:
        return None
    records = sum(n for _, n, _ in estimate.causes)
    biggest = "; ".join(
        f"{c} ({plural(n, 'record')}, {m:.0f} min)" for c, n, m in estimate.causes[:3]
    )
    return Firing(
        rule="cleanup_minutes",
        subject="queue",
        detail=f"today's clean-up is estimated at {estimate.minutes} min (limit {limit:g} min): "
        f"{plural(len(estimate.causes), 'cause')}, {plural(records, 'record')} to act on; "
        f"the biggest: {biggest}. See `billbridge queue`.",
    )


def _rate_limit_firing(limit: float | None, name: str, flow: FlowStatus) -> Firing | None:
    """The flow's last finished sync run spent more than `limit`% of its time on waits."""
    cost = flow.last_cost
    if limit is None or cost is None:
        return None
    percent = wait_percent(cost)
    if percent is None or percent <= limit:
        return None
    f = cost.figures
    return Firing(
        rule="rate_limit_wait_percent",
        subject=name,
        detail=f"flow {name}: run {cost.run_id} waited {f.rate_limit_wait_seconds:.1f} s for "
        f"the source's rate limit ({f.rate_limit_waits} waits, {f.throttled} answered 429) "
        f"in {cost.duration_seconds:.1f} s: {percent:.1f}% of its time (limit {limit:g}%); "
        "lower the flow's load or ask for a higher limit",
    )


@dataclass(slots=True, kw_only=True)
class AlertReport:
    fired: list[str] = field(default_factory=list)  # "rule: subject" sent as firing
    resolved: list[str] = field(default_factory=list)  # sent as resolved
    open: list[str] = field(default_factory=list)  # still open after this check
    failed: list[str] = field(default_factory=list)  # deliveries that failed (retried later)

    def as_json(self) -> dict[str, list[str]]:
        return {
            "fired": self.fired,
            "resolved": self.resolved,
            "open": self.open,
            "failed": self.failed,
        }


def _payload(
    incident: IncidentRow, state: str, workspace: str, at: datetime, head: AuditHead | None
) -> dict[str, Any]:
    return {
        "source": "billbridge",
        "workspace": workspace,
        "state": state,
        "rule": incident.rule,
        "subject": incident.subject,
        "detail": incident.detail,
        "opened_at": incident.opened_at.isoformat(),
        "resolved_at": at.isoformat() if state == "resolved" else None,
        # the audit chain's head: every alert is also a witness of the chain (an anchor)
        "audit_anchor": audit_anchor_json(head),
    }


def _runs(store: StatusState, flows: Sequence[str]) -> tuple[dict[str, RunRow], dict[str, RunRow]]:
    last: dict[str, RunRow] = {}
    first: dict[str, RunRow] = {}
    for name in flows:
        runs = [r for r in store.list_runs(flow=name, limit=200) if r.kind in {"live", "backfill"}]
        finished = [r for r in runs if r.status == "finished"]
        if finished:
            last[name] = finished[0]
        if runs:
            first[name] = runs[-1]
    return last, first


def check_alerts(
    store: AlertState,
    config: AlertsConfig,
    *,
    flows: Sequence[str],
    workspace: str = "",
    now: datetime | None = None,
    client: httpx.Client | None = None,
    smtp: SmtpFactory | None = None,
    namer: RecordNamer | None = None,
) -> AlertReport:
    """Evaluate the rules; open, announce, keep or resolve incidents; deliver messages.

    With a `namer`, each record an alert names is also shown in words.
    """
    now = now or datetime.now(UTC)
    status = workspace_status(store, flows=flows, now=now)
    last, first = _runs(store, list(status.flows))
    found = store.open_discrepancies()
    named = namer.words(d.record_key for d in found) if namer is not None else {}
    firing = {
        (f.rule, f.subject): f
        for f in evaluate(
            config.rules,
            status,
            last_runs=last,
            first_runs=first,
            discrepancies=found,
            words={k: w.text() for k, w in named.items()},
        )
    }
    deliver = Deliver(config, client, smtp)
    head = store.audit_head()
    report = AlertReport()
    pending = store.pending_incidents()
    known = {(i.rule, i.subject) for i in pending if i.status == "open"}
    for key, fire in firing.items():
        if key not in known:
            incident_id = store.open_incident(
                rule=fire.rule, subject=fire.subject, detail=fire.detail, at=now
            )
            pending.append(
                IncidentRow(
                    id=incident_id, rule=fire.rule, subject=fire.subject, detail=fire.detail,
                    opened_at=now,
                )
            )  # fmt: skip
    for incident in pending:
        name = f"{incident.rule}: {incident.subject}"
        still = (incident.rule, incident.subject) in firing
        if incident.status == "open" and still:
            if incident.notified_at is None:
                errors = deliver(_payload(incident, "firing", workspace, now, head))
                if errors:
                    report.failed.extend(errors)
                else:
                    store.mark_incident(incident.id, notified_at=now)
                    report.fired.append(name)
            report.open.append(name)
            continue
        resolved_at = incident.resolved_at or now
        if incident.status == "open":
            store.mark_incident(incident.id, resolved_at=resolved_at)
        if incident.notified_at is None:  # never announced: close it quietly
            store.mark_incident(incident.id, resolved_notified_at=now)
            continue
        errors = deliver(_payload(incident, "resolved", workspace, resolved_at, head))
        if errors:
            report.failed.extend(errors)
        else:
            store.mark_incident(incident.id, resolved_notified_at=now)
            report.resolved.append(name)
    return report
