"""The REST API under /api: JSON over the same engine calls as the CLI.

Roles (`billbridge.roles`): viewer reads; operator also starts runs, retries, replays and
dismisses; mapper also makes mapping drafts and tests; approver also promotes, rolls
back and decides held records; admin also manages users and tokens. Bearer tokens
authenticate scripts; a browser session may call it too, with its CSRF token in the
`X-CSRF-Token` header on unsafe methods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field, field_validator

from billbridge.audit_anchors import verify_with_anchors
from billbridge.config import Workspace
from billbridge.engine.liveness import close_dead_runs
from billbridge.engine.model import RunResult
from billbridge.engine.trace import resolve_ref, trace
from billbridge.redact import redact_settings
from billbridge.store.base import AuditRow, RunRow
from billbridge.wiring import record_namer

from . import actions
from .actions import DISMISS_NEEDS_REASON
from .auth import Principal
from .deps import StoreDep, api_user, workspace

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["api"])
Viewer = Annotated[Principal, Depends(api_user("viewer"))]
Operator = Annotated[Principal, Depends(api_user("operator"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]
MAX_ID = 2**63 - 1  # the stores' integer ids are 64-bit
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


class Health(BaseModel):
    status: str


class RunOut(BaseModel):
    id: int
    flow: str
    kind: str
    actor: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: dict[str, int]
    mapping_version: str
    error: str = ""  # why a failed or crashed run ended

    @classmethod
    def of(cls, run: RunRow) -> RunOut:
        return cls(
            id=run.id, flow=run.flow, kind=run.kind, actor=run.actor, started_at=run.started_at,
            finished_at=run.finished_at, status=run.status, counts=dict(run.counts),
            mapping_version=run.mapping_version, error=run.error,
        )  # fmt: skip


class RunFiguresOut(BaseModel):
    """What reading cost the run, as its source counted it (a live Stripe source does)."""

    requests: int
    rate_limit_waits: int
    rate_limit_wait_seconds: float
    throttled: int


class RunDetailOut(RunOut):
    rate_limit: RunFiguresOut | None = None  # None: the source counted nothing (a file)


class RunResultOut(BaseModel):
    run: int
    flow: str
    counts: dict[str, int]
    posted: int
    recovered: int = 0
    stopped: str = ""
    entries: list[str] = []
    problems: list[dict[str, str]] = []  # with dry_run: why records would fail
    dry_run: bool = False  # a preview: nothing written, no run number (`run` is 0)

    @classmethod
    def of(cls, result: RunResult) -> RunResultOut:
        return cls(
            run=result.run, flow=result.flow, counts=dict(result.counts), posted=result.posted,
            recovered=result.recovered, stopped=result.stopped, entries=result.dry_run_entries,
            problems=result.dry_run_problems, dry_run=result.dry_run,
        )  # fmt: skip


class QueueItemOut(BaseModel):
    id: int
    record: str
    flow: str
    kind: str
    error: str
    hint: str
    field: str
    attempts: int
    first_seen: str | None
    last_tried: str | None
    retryable: bool
    waiting_on: str | None
    cause: str = ""  # what the row has in common with others (`GET /api/queue/causes`)
    words: dict[str, str] | None = None  # the record in words: number, customer, amount, date


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    record_key: str
    diff: dict[str, Any]
    run_id: int | None
    mapping_version: str
    hash: str

    @classmethod
    def of(cls, row: AuditRow) -> AuditOut:
        return cls(
            seq=row.seq, at=row.at, actor=row.actor, action=row.action,
            record_key=row.record_key, diff=dict(row.diff), run_id=row.run_id,
            mapping_version=row.mapping_version, hash=row.hash,
        )  # fmt: skip


class VerifyOut(BaseModel):
    ok: bool
    rows: int
    first_bad: int | None
    missing: list[int] | None = None  # [first, last] seqs an anchor saw, no longer stored
    rewritten: list[int] | None = None  # [first, last]: rewritten rows, between anchors
    anchor: dict[str, Any] | None = None  # the newest trusted anchor: seq, hash, at
    problems: list[str] = Field(default_factory=list)  # what is wrong, in sentences


class StartRuns(BaseModel):
    flows: list[str] = Field(default_factory=list, max_length=50)
    dry_run: bool = False


class ReconcileIn(BaseModel):
    flows: list[str] = Field(default_factory=list, max_length=50)
    fix: bool = False


class RetryIn(BaseModel):
    ids: list[RowId] | None = Field(default=None, max_length=1000)


class ReplayIn(BaseModel):
    keys: list[str] = Field(min_length=1, max_length=1000)
    dry_run: bool = False


class DismissIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, reason: str) -> str:
        """A blank reason is refused here, so the 422 has the documented validation shape
        (a list naming `body.reason`), like every other invalid field."""
        if not reason.strip():
            raise ValueError(DISMISS_NEEDS_REASON)
        return reason


# ---------------------------------------------------------------- health
@router.get("/health")
def health(store: StoreDep) -> Health:
    """Liveness for load balancers: the store answers one cheap query. No login; reveals nothing.

    Not the audit verification: that reads the whole log, which is too slow for a probe.
    """
    store.list_runs(limit=1)
    return Health(status="ok")


# ---------------------------------------------------------------- runs
@router.get("/runs")
def list_runs(
    store: StoreDep,
    _: Viewer,
    flow: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RunOut]:
    close_dead_runs(store)  # a run whose process died shows as crashed, not running
    return [RunOut.of(r) for r in store.list_runs(flow=flow, limit=limit)]


@router.post("/runs")
def start_runs(
    body: StartRuns, ws: WorkspaceDep, store: StoreDep, who: Operator
) -> list[RunResultOut]:
    """Run flows now (each record its own outcome); answers when the runs have finished."""
    results = actions.start_runs(ws, store, body.flows, actor=who.actor, dry_run=body.dry_run)
    return [RunResultOut.of(r) for r in results]


@router.post("/reconcile")
def reconcile(
    body: ReconcileIn, ws: WorkspaceDep, store: StoreDep, who: Operator
) -> dict[str, Any]:
    """Compare the source now, what billbridge posted and the books now (`fix`: heal the
    certain differences through the pipeline, queue the rest as conflicts)."""
    return actions.reconcile_flows(ws, store, body.flows, actor=who.actor, fix=body.fix)


@router.get("/discrepancies")
def discrepancies(
    store: StoreDep, _: Viewer, flow: Annotated[str | None, Query(max_length=200)] = None
) -> list[dict[str, Any]]:
    """What the last reconcile found and is still open, with when it was first seen."""
    return [
        {
            "flow": row.flow,
            "kind": row.kind,
            "record_key": row.record_key,
            "idempotency_key": row.idempotency_key,
            "owner": row.owner,
            "fix": row.fix,
            "detail": row.detail,
            "first_seen": row.first_seen.isoformat() if row.first_seen else None,
            "last_seen": row.last_seen.isoformat() if row.last_seen else None,
        }
        for row in store.open_discrepancies(flow=flow)
    ]


@router.get("/runs/{run_id}")
def get_run(
    run_id: Annotated[int, Path(ge=1, le=MAX_ID)], store: StoreDep, _: Viewer
) -> RunDetailOut:
    run = store.get_run(run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id}")
    figures = store.run_figures(run_id)
    return RunDetailOut(
        **RunOut.of(run).model_dump(),
        rate_limit=None
        if figures is None
        else RunFiguresOut(
            requests=figures.requests,
            rate_limit_waits=figures.rate_limit_waits,
            rate_limit_wait_seconds=figures.rate_limit_wait_seconds,
            throttled=figures.throttled,
        ),
    )


# ---------------------------------------------------------------- records
@router.get("/records/{key}")
def get_record(key: str, store: StoreDep, _: Viewer) -> dict[str, Any]:
    """The last version of a source record billbridge saw (its raw JSON snapshot)."""
    row = store.get_record(key)
    if row is None:
        raise HTTPException(404, f"no record {key!r}; keys look like stripe:invoice:in_123")
    return {
        "key": row.key, "connection": row.connection, "object": row.object,
        "source_id": row.source_id, "version": row.version, "seen_at": row.seen_at.isoformat(),
        "data": orjson.loads(row.snapshot),
    }  # fmt: skip


@router.get("/records/{key}/history")
def record_history(key: str, store: StoreDep, _: Viewer) -> dict[str, Any]:
    return actions.record_history(store, key)


# ---------------------------------------------------------------- queue
from . import api_queue  # noqa: E402 - /api/queue/causes… before /api/queue/{id}/…

api_queue.register(router)


@router.get("/queue")
def list_queue(
    ws: WorkspaceDep,
    store: StoreDep,
    _: Viewer,
    flow: str | None = None,
    kind: str | None = None,
    older_than_hours: Annotated[float | None, Query(ge=0, le=24 * 3650)] = None,
) -> list[QueueItemOut]:
    wanted = actions.QueueFilter(flow=flow, kind=kind, older_than_hours=older_than_hours)
    items = actions.filtered_queue(store, wanted, record_namer(ws, store))
    return [QueueItemOut(**i.as_json()) for i in items]


@router.post("/queue/retry")
def retry_queue(
    body: RetryIn, ws: WorkspaceDep, store: StoreDep, who: Operator
) -> list[RunResultOut]:
    """Retry rows by id; without ids, every open failed row."""
    return [RunResultOut.of(r) for r in actions.retry_rows(ws, store, body.ids, actor=who.actor)]


@router.post("/queue/replay")
def replay_queue(
    body: ReplayIn, ws: WorkspaceDep, store: StoreDep, who: Operator
) -> list[RunResultOut]:
    """Replay records through the current mapping; `dry_run` previews the journal entries."""
    results = actions.replay_records(ws, store, body.keys, actor=who.actor, dry_run=body.dry_run)
    return [RunResultOut.of(r) for r in results]


@router.post("/queue/{exception_id}/dismiss")
def dismiss_row(
    exception_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: DismissIn,
    store: StoreDep,
    who: Operator,
) -> dict[str, Any]:
    actions.dismiss(store, exception_id, actor=who.actor, reason=body.reason)
    return {"dismissed": exception_id}


# ---------------------------------------------------------------- audit and trace
@router.get("/audit")
def search_audit(
    store: StoreDep,
    _: Viewer,
    record: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[AuditOut]:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise HTTPException(422, f"{name}: give a time zone, e.g. 2026-01-31T00:00:00Z")
    rows = store.search_audit(record_key=record, actor=actor, since=since, until=until, limit=limit)
    return [AuditOut.of(r) for r in rows]


@router.get("/audit/verify")
def verify_audit(ws: WorkspaceDep, store: StoreDep, _: Viewer) -> VerifyOut:
    """The hash chain recomputed and checked against its anchors (see `audit --verify`)."""
    data = verify_with_anchors(ws, store).as_json()
    return VerifyOut(**{k: v for k, v in data.items() if k in VerifyOut.model_fields})


@router.get("/trace/{ref}")
def trace_ref(ref: str, store: StoreDep, _: Viewer) -> dict[str, Any]:
    """One invoice from trigger to ledger; `ref` is an invoice number, an in_… id or a key."""
    key = resolve_ref(store, ref)
    if key is None:
        raise HTTPException(404, f"no record matches {ref!r} (an invoice number, in_… id or key)")
    return trace(store, key).as_json()


# ---------------------------------------------------------------- configuration (read only)
@router.get("/flows")
def list_flows(ws: WorkspaceDep, _: Viewer) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "from": f.source, "to": f.target, "mapping": str(f.mapping),
         "retry": f.retry.model_dump()}
        for f in ws.flows
    ]  # fmt: skip


@router.get("/connections")
def list_connections(ws: WorkspaceDep, _: Viewer) -> list[dict[str, Any]]:
    """Connections without secrets: a secret setting shows only whether it is set (e.g.
    `api_key_set`), a URL's password and secret query values are masked (`redact`)."""
    return [{**redact_settings(conn), "name": name} for name, conn in ws.connections.items()]


# ---------------------------------------------------------------- users and tokens (admin)
from . import api_users  # noqa: E402 - its routes join this router: /api/users, /api/tokens

api_users.register(router)


# ---------------------------------------------------------------- Stripe write-back (issue 4)
from . import api_stripe  # noqa: E402 - its routes join this router, under /api/stripe

api_stripe.register(router)


# ---------------------------------------------------------------- change control (issue 17)
from . import api_mapping  # noqa: E402 - its routes join this router: /api/mapping, /api/approvals

api_mapping.register(router)
