"""What the API and the web UI both do, as plain functions over the engine and the store.

Why one module: a replay from a form and one from `POST /api/queue/replay` must be the
same call with the same audit rows; the two routers only translate HTTP in and out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException

from billbridge.config import ConfigError, Workspace
from billbridge.connectors.base import ConnectorError, RetryableError
from billbridge.engine.causes import Cause, group_causes
from billbridge.engine.model import RunResult
from billbridge.engine.queue import (
    QueueItem,
    UnknownRecordError,
    find_cause,
    queue_items,
    record_states,
    replay,
    replay_cause,
    retry,
)
from billbridge.engine.reconcile import reconcile_flow, reconcile_json
from billbridge.engine.run import sync_flow
from billbridge.engine.words import RecordNamer
from billbridge.store.base import AuditEvent, Store
from billbridge.wiring import flows as flow_runtimes
from billbridge.wiring import record_namer

__all__ = [
    "DISMISS_NEEDS_REASON",
    "KINDS",
    "CauseReplay",
    "QueueFilter",
    "causes",
    "dismiss",
    "filtered_queue",
    "record_history",
    "replay_a_cause",
    "replay_records",
    "retry_rows",
    "retry_states",
    "start_runs",
]

KINDS = ("failed", "held", "conflict")


@dataclass(frozen=True, slots=True)
class QueueFilter:
    flow: str | None = None
    kind: str | None = None
    older_than_hours: float | None = None


def filtered_queue(
    store: Store, wanted: QueueFilter, namer: RecordNamer | None = None
) -> list[QueueItem]:
    """The open queue, by flow (in SQL, as a parameter), kind and minimum age."""
    items = queue_items(store, flow=wanted.flow or None, namer=namer)
    if wanted.kind:
        items = [i for i in items if i.kind == wanted.kind]
    if wanted.older_than_hours:
        cutoff = datetime.now(UTC) - timedelta(hours=wanted.older_than_hours)
        items = [i for i in items if i.first_seen is not None and i.first_seen <= cutoff]
    return items


def _engine_errors(exc: Exception) -> HTTPException:
    """Engine and connector errors as HTTP answers; their messages never hold secrets."""
    if isinstance(exc, UnknownRecordError):
        return HTTPException(404, str(exc))
    if isinstance(exc, RetryableError):  # e.g. another run holds the ledger's lock
        return HTTPException(503, f"try again shortly: {exc}", headers={"Retry-After": "5"})
    if isinstance(exc, ConnectorError):
        return HTTPException(502, str(exc))
    return HTTPException(422, str(exc))


def _default_flow(ws: Workspace) -> str | None:
    return ws.flows[0].name if len(ws.flows) == 1 else None


def replay_records(
    ws: Workspace, store: Store, keys: Sequence[str], *, actor: str, dry_run: bool
) -> list[RunResult]:
    """Replay (or preview) records through the current mapping, as the acting user."""
    if not keys:
        raise HTTPException(422, "give at least one record key, e.g. stripe:invoice:in_123")
    try:
        with flow_runtimes(ws, store=store, actor=actor) as lookup:
            results = replay(
                store, lookup, keys, actor=actor, dry_run=dry_run, default_flow=_default_flow(ws)
            )
    except (UnknownRecordError, ConfigError, ConnectorError) as exc:
        raise _engine_errors(exc) from None
    if dry_run:  # a preview writes nothing to the ledger, but who looked is still recorded
        for key in keys:
            store.append_audit(AuditEvent(actor=actor, action="previewed", record_key=key))
    return results


def retry_rows(
    ws: Workspace, store: Store, ids: Sequence[int] | None, *, actor: str
) -> list[RunResult]:
    try:
        with flow_runtimes(ws, store=store, actor=actor) as lookup:
            return retry(store, lookup, ids, actor=actor)
    except (UnknownRecordError, ConfigError, ConnectorError) as exc:
        raise _engine_errors(exc) from None


def causes(ws: Workspace, store: Store, *, flow: str | None = None) -> list[Cause]:
    """The open queue by cause, each record named in words (and so its amounts)."""
    namer = record_namer(ws, store)
    rows = store.open_exceptions(flow=flow)
    return group_causes(rows, namer.words(r.record_key for r in rows))


@dataclass(frozen=True, slots=True)
class CauseReplay:
    """A cause replayed (or previewed): the cause as it was, the runs, where each record is."""

    cause: Cause
    results: list[RunResult]
    states: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "cause": self.cause.as_json(),
            "runs": [r.as_json() for r in self.results],
            "records": self.states,
        }


def replay_a_cause(
    ws: Workspace, store: Store, cause: str, *, actor: str, dry_run: bool, flow: str | None = None
) -> CauseReplay:
    """Replay (or preview) every record of one cause, as the acting user."""
    namer = record_namer(ws, store)
    try:
        found = find_cause(store, cause, flow=flow, namer=namer)
        with flow_runtimes(ws) as lookup:
            results = replay_cause(store, lookup, found, actor=actor, dry_run=dry_run)
    except (UnknownRecordError, ConfigError, ConnectorError) as exc:
        raise _engine_errors(exc) from None
    for result in results:
        for problem in result.dry_run_problems:
            problem["words"] = namer.text(problem["record"])
    if dry_run:  # nothing posted, but who looked is recorded
        store.append_audit(
            AuditEvent(actor=actor, action="previewed", diff={"cause": [None, found.cause]})
        )
        return CauseReplay(cause=found, results=results, states=[])
    states = record_states(store, [(r.flow, r.record_key) for r in found.rows])
    for state in states:
        state["words"] = namer.text(state["record"])
    return CauseReplay(cause=found, results=results, states=states)


def retry_states(store: Store, ids: Sequence[int]) -> list[tuple[str, str]]:
    """(flow, record) of queue rows, read before a retry so its outcome can be told."""
    rows = [store.get_exception(i) for i in ids]
    return [(r.flow, r.record_key) for r in rows if r is not None]


DISMISS_NEEDS_REASON = "say why the row is dismissed (the reason goes to the audit log)"


def dismiss(store: Store, exception_id: int, *, actor: str, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise HTTPException(422, DISMISS_NEEDS_REASON)
    row = store.get_exception(exception_id)
    if row is None:
        raise HTTPException(404, f"no queue row {exception_id}")
    if row.status != "open":
        raise HTTPException(409, f"queue row {exception_id} is {row.status}, not open")
    store.dismiss_exception(exception_id, actor=actor, reason=reason)


def start_runs(
    ws: Workspace, store: Store, names: Sequence[str], *, actor: str, dry_run: bool
) -> list[RunResult]:
    """Run flows now, in this request (a backfill belongs to `billbridge sync --backfill`)."""
    try:
        chosen = [ws.flow(n).name for n in names] or [f.name for f in ws.flows]
    except ConfigError as exc:
        raise HTTPException(404, exc.detail) from None
    try:
        with flow_runtimes(ws, store=store, actor=actor) as lookup:
            results = [sync_flow(lookup(n), store, actor=actor, dry_run=dry_run) for n in chosen]
    except ConnectorError as exc:
        raise _engine_errors(exc) from None
    for result in results:  # who started it, even when it posted nothing (or was a dry run)
        store.append_audit(
            AuditEvent(
                actor=actor, action="run", run_id=result.run or None,  # a dry run: none
                diff={"flow": [None, result.flow], "dry_run": [None, dry_run],
                      "counts": [None, dict(result.counts)]},
            )
        )  # fmt: skip
    return results


def record_history(store: Store, key: str) -> dict[str, Any]:
    """One record as billbridge saw it: its outcomes, postings, queue rows and audit rows."""
    row = store.get_record(key)
    if row is None:
        raise HTTPException(404, f"no record {key!r}; keys look like stripe:invoice:in_123")
    return {
        "record": key,
        "outcomes": [
            {"run": o.run_id, "flow": o.flow, "outcome": o.outcome, "at": o.at.isoformat(),
             "version": o.version, "error": o.error, "field": o.field, "hint": o.hint}
            for o in store.outcomes_for(key)
        ],
        "postings": [
            {"flow": p.flow, "facet": p.facet, "target": p.target, "ref": p.target_ref,
             "summary": p.summary, "at": p.posted_at.isoformat()}
            for p in store.postings_for(key)
        ],
        "queue": [
            QueueItem.of(e).as_json() | {"status": e.status} for e in store.exceptions_for(key)
        ],
        "audit": [
            {"seq": a.seq, "at": a.at.isoformat(), "actor": a.actor, "action": a.action,
             "diff": dict(a.diff)}
            for a in store.audit_rows(record_key=key)
        ],
    }  # fmt: skip


def reconcile_flows(
    ws: Workspace, store: Store, names: Sequence[str], *, actor: str, fix: bool
) -> dict[str, Any]:
    """`billbridge reconcile [--fix]` for the API: the same engine call, the same JSON."""
    try:
        chosen = [ws.flow(n).name for n in names] or [f.name for f in ws.flows]
    except ConfigError as exc:
        raise HTTPException(404, exc.detail) from None
    try:
        with flow_runtimes(ws, store=store, actor=actor) as lookup:
            results = [reconcile_flow(lookup(n), store, fix=fix, actor=actor) for n in chosen]
    except ConnectorError as exc:
        raise _engine_errors(exc) from None
    report = reconcile_json(results)
    store.append_audit(
        AuditEvent(
            actor=actor,
            action="reconcile-fix" if fix else "reconcile",
            diff={"flows": [None, chosen], "counts": [None, report["counts"]]},
        )
    )
    return report
