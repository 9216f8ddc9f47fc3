"""Change control over the API: mapping versions, drafts, tests, promotion; record approvals.

The same engine calls as `billbridge mapping …`, `approve` and `reject` (and the web UI's
Mapping and Approvals pages, which call the helpers here), with the caller as a proven
identity: a refusal is the same sentence with a status (403 not allowed, 404 unknown,
409 the state does not allow it, 422 a bad draft). A draft posted here is YAML text of a
mapping file (`fx.file` must be inlined as `fx.rates`: the API has no file beside it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field, ValidationError

from billbridge.config import ConfigError, Workspace
from billbridge.engine.approval_decisions import ApprovalRefusedError, awaiting_approval, decide
from billbridge.engine.mapping_change import (
    ChangeRefusedError,
    FlowRef,
    history,
    load_version,
    promote,
    resolve_version,
    rollback,
    store_draft,
    version_diff,
)
from billbridge.flow_mapping import flow_mapping, flow_ref, run_mapping_test
from billbridge.identity import Identity
from billbridge.mapping.model import Mapping, load_mapping
from billbridge.mapping.versions import VersionContentError, content_of
from billbridge.roles import Action, refusal
from billbridge.store.base import Store
from billbridge.wiring import flows as flow_runtimes

from .auth import Principal
from .deps import StoreDep, api_user, workspace

__all__ = [
    "decide_record",
    "diff_json",
    "draft_from_text",
    "flow_or_404",
    "history_json",
    "identity",
    "mapping_test_json",
    "promote_version",
    "register",
    "rollback_version",
]

Viewer = Annotated[Principal, Depends(api_user("viewer"))]
Mapper = Annotated[Principal, Depends(api_user("mapper"))]
Approver = Annotated[Principal, Depends(api_user("approver"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]
FlowName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
Version = Annotated[str, Path(pattern=r"^[0-9a-f]{4,64}$")]
_STATUS = {"forbidden": 403, "not-found": 404, "conflict": 409}


def identity(who: Principal) -> Identity:
    """A signed-in caller of the service is a proven identity (session or API token)."""
    return Identity(name=who.name, role=who.role, proven=True, actor=who.actor)


def _refused(exc: ChangeRefusedError | ApprovalRefusedError) -> HTTPException:
    return HTTPException(_STATUS[exc.kind], str(exc))


def flow_or_404(ws: Workspace, name: str) -> FlowRef:
    try:
        return flow_ref(ws, name)
    except ConfigError as exc:
        raise HTTPException(404, exc.detail) from None


def history_json(ws: Workspace, store: Store, name: str, actor: str) -> dict[str, Any]:
    ref = flow_or_404(ws, name)
    state = flow_mapping(ws, name, store=store, actor=actor)
    rows = history(store, ref, file_version=state.file_version)
    tests = store.mapping_tests(name)
    return {
        "flow": name, "promoted": state.promoted, "file": state.file_version,
        "production": ref.production, "guarded": ref.guarded,
        "versions": [r.as_json() for r in rows],
        "tests": [{"id": t.id, "draft": t.draft, "base": t.base, "actor": t.actor,
                   "at": t.at.isoformat(), "records": t.records,
                   "changed": t.summary.get("changed"),
                   "newly_failing": t.summary.get("newly_failing"),
                   "newly_posting": t.summary.get("newly_posting")} for t in tests],
    }  # fmt: skip


def diff_json(
    ws: Workspace, store: Store, name: str, old: str | None, new: str | None, actor: str
) -> dict[str, Any]:
    ref = flow_or_404(ws, name)
    state = flow_mapping(ws, name, store=store, actor=actor)
    try:
        before = resolve_version(store, ref, old) if old else state.promoted
        after_id = resolve_version(store, ref, new) if new else None
        after: Mapping | str = after_id or load_mapping(ref.mapping_path)
        changes = version_diff(store, ref, before, after)
    except ChangeRefusedError as exc:
        raise _refused(exc) from None
    return {"flow": name, "from": before, "to": after_id or state.file_version,
            "changes": [c.as_json() for c in changes]}  # fmt: skip


def draft_from_text(
    ws: Workspace, store: Store, name: str, text: str, *, who: Identity, comment: str
) -> dict[str, Any]:
    """Keep the mapping in `text` (YAML, as in a mapping file) as a draft of the flow."""
    ref = flow_or_404(ws, name)
    _allowed(who, "draft")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HTTPException(422, f"the draft is not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise HTTPException(422, "the draft must be a mapping file: `accounts:`, `tax_rates:` …")
    if isinstance(data.get("fx"), dict) and data["fx"].get("file"):
        raise HTTPException(422, "fx.file: write the rates inline under `fx: rates:` in a draft")
    try:
        mapping = Mapping.model_validate({**data, "path": ref.mapping_path})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise HTTPException(422, f"{where}: {error['msg']}") from None
    state = flow_mapping(ws, name, store=store, actor=who.actor)
    stored = store_draft(store, ref, mapping, author=who.name, parent=state.promoted,
                         comment=comment or "made through the API")  # fmt: skip
    return {"flow": name, "version": mapping.version, "new": stored, "parent": state.promoted,
            "content": content_of(mapping)}  # fmt: skip


def mapping_test_json(
    ws: Workspace, store: Store, name: str, *, who: Identity, draft: str | None,
    records: int | None = None, since: date | None = None,
) -> dict[str, Any]:  # fmt: skip
    flow_or_404(ws, name)
    _allowed(who, "test")
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    try:
        test, report = run_mapping_test(
            ws, store, name, who=who, draft=draft, limit=None if start else (records or 1000),
            since=start,
        )  # fmt: skip
    except ChangeRefusedError as exc:
        raise _refused(exc) from None
    return {"test": test, **report.as_json()}


def _allowed(who: Identity, what: Action) -> None:
    """The role check first, so a caller who may not act learns nothing else (403)."""
    refused = refusal(who.name, who.role, what)
    if refused is not None:
        raise HTTPException(403, refused)


def promote_version(
    ws: Workspace, store: Store, name: str, version: str, *, who: Identity
) -> dict[str, Any]:
    ref = flow_or_404(ws, name)
    _allowed(who, "promote")
    flow_mapping(ws, name, store=store, actor=who.actor)
    try:
        done = promote(store, ref, resolve_version(store, ref, version), who=who)
    except ChangeRefusedError as exc:
        raise _refused(exc) from None
    except VersionContentError as exc:  # a stored row that no longer hashes to its id
        raise HTTPException(409, str(exc)) from None
    return {"flow": name, "promoted": done.promotion.version,
            "previous": done.promotion.previous or None, "author": done.author,
            "approver": who.actor, "test": done.test.id if done.test else None,
            "summary": done.test.summary if done.test else None}  # fmt: skip


def rollback_version(
    ws: Workspace, store: Store, name: str, to: str | None, *, who: Identity
) -> dict[str, Any]:
    ref = flow_or_404(ws, name)
    _allowed(who, "rollback")
    try:
        row = rollback(store, ref, who=who, to=resolve_version(store, ref, to) if to else None)
    except ChangeRefusedError as exc:
        raise _refused(exc) from None
    return {"flow": name, "promoted": row.version, "previous": row.previous or None,
            "actor": who.actor}  # fmt: skip


def decide_record(
    ws: Workspace, store: Store, key: str, *, who: Identity, approve: bool, reason: str
) -> dict[str, Any]:
    """`billbridge approve|reject` for the API and the UI: the same checks and audit rows."""
    try:
        with flow_runtimes(ws, store=store, actor=who.actor) as lookup:
            decision, result = decide(store, lookup, key, who=who, approve=approve, reason=reason)
    except ApprovalRefusedError as exc:
        raise _refused(exc) from None
    return {"record": key, "decision": decision.decision, "rule": decision.rule,
            "actor": decision.actor, "reason": decision.reason or None,
            "run": result.as_json()}  # fmt: skip


# ---------------------------------------------------------------- routes
class DraftIn(BaseModel):
    content: str = Field(min_length=1, max_length=1_000_000)  # YAML, as a mapping file
    comment: str = Field(default="", max_length=500)


class ReplanIn(BaseModel):
    draft: str | None = Field(default=None, pattern=r"^[0-9a-f]{4,64}$")
    records: int | None = Field(default=None, ge=1, le=1_000_000)
    since: date | None = None


class PromoteIn(BaseModel):
    version: str = Field(pattern=r"^[0-9a-f]{4,64}$")


class RollbackIn(BaseModel):
    to: str | None = Field(default=None, pattern=r"^[0-9a-f]{4,64}$")


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


def get_versions(name: FlowName, ws: WorkspaceDep, store: StoreDep, who: Viewer) -> dict[str, Any]:
    """Every version of the flow's mapping: author, time, comment, parent, status, tests."""
    return history_json(ws, store, name, who.actor)


def get_version(
    name: FlowName, version: Version, ws: WorkspaceDep, store: StoreDep, _: Viewer
) -> dict[str, Any]:
    """One stored version with its content (the validated model's JSON)."""
    ref = flow_or_404(ws, name)
    try:
        full = resolve_version(store, ref, version)
        load_version(store, ref, full)
    except ChangeRefusedError as exc:
        raise _refused(exc) from None
    row = store.get_mapping_version(name, full)
    assert row is not None
    return {"flow": name, "version": full, "author": row.author, "comment": row.comment,
            "parent": row.parent or None, "created_at": row.created_at.isoformat(),
            "content": row.content}  # fmt: skip


def get_diff(
    name: FlowName, ws: WorkspaceDep, store: StoreDep, who: Viewer,
    old: Annotated[str | None, Query(pattern=r"^[0-9a-f]{4,64}$")] = None,
    new: Annotated[str | None, Query(pattern=r"^[0-9a-f]{4,64}$")] = None,
) -> dict[str, Any]:  # fmt: skip
    """What changes in meaning from `old` (default: promoted) to `new` (default: the file)."""
    return diff_json(ws, store, name, old, new, who.actor)


def post_draft(
    name: FlowName, body: DraftIn, ws: WorkspaceDep, store: StoreDep, who: Mapper
) -> dict[str, Any]:
    """Keep a mapping (YAML text) as a draft of the flow, authored by the caller."""
    return draft_from_text(ws, store, name, body.content, who=identity(who), comment=body.comment)


def post_test(
    name: FlowName, body: ReplanIn, ws: WorkspaceDep, store: StoreDep, who: Mapper
) -> dict[str, Any]:
    """Re-plan recorded records under a draft and the promoted version (writes no entry)."""
    return mapping_test_json(ws, store, name, who=identity(who), draft=body.draft,
                      records=body.records, since=body.since)  # fmt: skip


def get_test(
    name: FlowName, test_id: Annotated[int, Path(ge=1, le=2**63 - 1)], ws: WorkspaceDep,
    store: StoreDep, _: Viewer,
) -> dict[str, Any]:  # fmt: skip
    """One test's stored summary: records changed, entries before/after, totals."""
    flow_or_404(ws, name)
    found = next((t for t in store.mapping_tests(name) if t.id == test_id), None)
    if found is None:
        raise HTTPException(404, f"flow {name} has no mapping test {test_id}")
    return {"test": found.id, "actor": found.actor, "at": found.at.isoformat(), **found.summary}


def post_promote(
    name: FlowName, body: PromoteIn, ws: WorkspaceDep, store: StoreDep, who: Approver
) -> dict[str, Any]:
    """Run a draft from now on; on production not by its author, and only after a test."""
    return promote_version(ws, store, name, body.version, who=identity(who))


def post_rollback(
    name: FlowName, body: RollbackIn, ws: WorkspaceDep, store: StoreDep, who: Approver
) -> dict[str, Any]:
    """Run an earlier promoted version again (default: the previous one)."""
    return rollback_version(ws, store, name, body.to, who=identity(who))


def get_approvals(store: StoreDep, _: Viewer) -> list[dict[str, Any]]:
    """Records an approval rule holds, with the rule and why."""
    return [{"id": r.id, "record": r.record_key, "flow": r.flow, "error": r.error,
             "since": r.first_seen.isoformat() if r.first_seen else None}
            for r in awaiting_approval(store)]  # fmt: skip


KeyPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{3,300}$")]


def post_approve(key: KeyPath, ws: WorkspaceDep, store: StoreDep, who: Approver) -> dict[str, Any]:
    """Approve a held record: it goes on and posts (not by the author of its last change)."""
    return decide_record(ws, store, key, who=identity(who), approve=True, reason="")


def post_reject(
    key: KeyPath, body: RejectIn, ws: WorkspaceDep, store: StoreDep, who: Approver
) -> dict[str, Any]:
    """Reject a held record: it fails, queued with the reason."""
    return decide_record(ws, store, key, who=identity(who), approve=False, reason=body.reason)


def register(router: APIRouter) -> None:
    """Add the routes to the API's router (under /api/mapping and /api/approvals)."""
    router.get("/mapping/{name}/versions")(get_versions)
    router.get("/mapping/{name}/versions/{version}")(get_version)
    router.get("/mapping/{name}/diff")(get_diff)
    router.post("/mapping/{name}/drafts")(post_draft)
    router.post("/mapping/{name}/tests")(post_test)
    router.get("/mapping/{name}/tests/{test_id}")(get_test)
    router.post("/mapping/{name}/promote")(post_promote)
    router.post("/mapping/{name}/rollback")(post_rollback)
    router.get("/approvals")(get_approvals)
    router.post("/approvals/{key}/approve")(post_approve)
    router.post("/approvals/{key}/reject")(post_reject)
