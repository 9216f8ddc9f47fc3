"""The Mapping and Approvals pages of the web UI: change control in a browser.

Why its own module: the same helpers as `/api/mapping` and `/api/approvals`
(service/api_mapping.py), so a promotion from a page is refused for the same reasons
and leaves the same audit rows as one from the CLI. Pages show every version with its
author, the semantic diff of the file against what runs, and each test's changed
records entry by entry; a mapper tests the draft, an approver promotes a tested draft
or rolls back, approves or rejects held records. A refusal is shown on the page in
plain words, with the status the API would give.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billbridge.config import Workspace
from billbridge.engine.approval_decisions import awaiting_approval
from billbridge.roles import permits
from billbridge.store.base import Store

from .api_mapping import (
    decide_record,
    diff_json,
    draft_from_text,
    flow_or_404,
    history_json,
    identity,
    mapping_test_json,
    promote_version,
    rollback_version,
)
from .auth import Principal
from .deps import StoreDep, check_csrf, ui_user, workspace
from .ui import templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(ui_user("viewer"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]
Field = Annotated[str, Form()]
NOTICES = {
    "tested": "Tested the draft: test #{key}.",
    "drafted": "Kept draft {key}; test it, then an approver promotes it.",
    "promoted": "Promoted mapping {key}: the flow runs it from now on.",
    "rolled-back": "Rolled back: the flow runs mapping {key} again.",
    "approved": "Approved {key}.",
    "rejected": "Rejected {key}; it is in the queue with the reason.",
}


def _when(moment: str | datetime | None) -> str:
    if moment is None:
        return ""
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _context(who: Principal, **more: Any) -> dict[str, Any]:
    return {
        "who": who, "can_act": permits(who.role, "operator"),
        "can_test": permits(who.role, "test"), "can_promote": permits(who.role, "promote"),
        "can_approve": permits(who.role, "approve"), "when": _when, **more,
    }  # fmt: skip


def _notice(kind: str, key: str) -> str:
    template = NOTICES.get(kind)
    return template.format(key=key) if template else ""


def _flow_page(
    request: Request, ws: Workspace, store: Store, who: Principal, name: str, *,
    notice: str = "", error: str = "", status: int = 200, draft_text: str = "",
) -> HTMLResponse:  # fmt: skip
    data = history_json(ws, store, name, who.actor)
    diff = diff_json(ws, store, name, None, None, who.actor) if data["file"] != data[
        "promoted"] else None  # fmt: skip
    tested = {t["draft"] for t in data["tests"] if t["base"] == data["promoted"]}
    ref = flow_or_404(ws, name)
    try:
        text = draft_text or ref.mapping_path.read_text("utf-8")
    except OSError:
        text = ""
    context = _context(
        who, flow=name, data=data, diff=diff, tested=tested, notice=notice, error=error,
        ref=ref, draft_text=text, can_draft=permits(who.role, "draft"),
    )  # fmt: skip
    return templates.TemplateResponse(request, "mapping.html", context, status_code=status)


def _act(
    request: Request, ws: Workspace, store: Store, who: Principal, name: str,
    act: Callable[[], Response], *, draft_text: str = "",
) -> Response:  # fmt: skip
    """Do `act()`; a refusal re-renders the flow's page with the reason (and the draft)."""
    try:
        return act()
    except HTTPException as exc:
        if name not in {f.name for f in ws.flows}:
            raise
        return _flow_page(request, ws, store, who, name, error=str(exc.detail),
                          status=exc.status_code, draft_text=draft_text)  # fmt: skip


def _back(name: str, kind: str, key: str | int) -> Response:
    url = f"/mapping/{quote(name)}?notice={kind}&key={quote(str(key), safe='')}"
    return RedirectResponse(url, status_code=303)


@router.get("/mapping")
def mapping_index(request: Request, ws: WorkspaceDep, store: StoreDep, who: Viewer) -> Response:
    flows = [history_json(ws, store, f.name, who.actor) for f in ws.flows]
    if len(flows) == 1:
        return RedirectResponse(f"/mapping/{quote(flows[0]['flow'])}", status_code=303)
    return templates.TemplateResponse(request, "mapping_index.html", _context(who, flows=flows))


@router.get("/mapping/{name}")
def mapping_page(
    request: Request, name: str, ws: WorkspaceDep, store: StoreDep, who: Viewer,
    notice: str = "", key: str = "",
) -> HTMLResponse:  # fmt: skip
    flow_or_404(ws, name)
    return _flow_page(request, ws, store, who, name, notice=_notice(notice, key))


@router.get("/mapping/{name}/tests/{test_id}")
def test_page(
    request: Request, name: str, test_id: int, ws: WorkspaceDep, store: StoreDep, who: Viewer
) -> HTMLResponse:
    flow_or_404(ws, name)
    found = next((t for t in store.mapping_tests(name) if t.id == test_id), None)
    if found is None:
        raise HTTPException(404, f"flow {name} has no mapping test {test_id}")
    promoted = store.promoted_mapping(name)
    context = _context(who, flow=name, test=found, summary=found.summary, promoted=promoted,
                       promotable=found.base == promoted and found.draft != promoted)  # fmt: skip
    return templates.TemplateResponse(request, "mapping_test.html", context)


@router.post("/mapping/{name}/test")
def run_test(
    request: Request, name: str, ws: WorkspaceDep, store: StoreDep, who: Viewer,
    csrf_token: Field = "", draft: Field = "",
) -> Response:  # fmt: skip
    check_csrf(who, csrf_token)

    def act() -> Response:
        done = mapping_test_json(ws, store, name, who=identity(who), draft=draft or None)
        return RedirectResponse(f"/mapping/{quote(name)}/tests/{done['test']}", status_code=303)

    return _act(request, ws, store, who, name, act)


@router.post("/mapping/{name}/draft")
def draft_page(
    request: Request, name: str, ws: WorkspaceDep, store: StoreDep, who: Viewer,
    csrf_token: Field = "", content: Field = "", comment: Field = "",
) -> Response:  # fmt: skip
    check_csrf(who, csrf_token)

    def act() -> Response:
        done = draft_from_text(ws, store, name, content, who=identity(who), comment=comment)
        return _back(name, "drafted", done["version"])

    return _act(request, ws, store, who, name, act, draft_text=content)


@router.post("/mapping/{name}/promote")
def promote_page(
    request: Request, name: str, ws: WorkspaceDep, store: StoreDep, who: Viewer,
    csrf_token: Field = "", version: Field = "",
) -> Response:  # fmt: skip
    check_csrf(who, csrf_token)

    def act() -> Response:
        done = promote_version(ws, store, name, version, who=identity(who))
        return _back(name, "promoted", done["promoted"])

    return _act(request, ws, store, who, name, act)


@router.post("/mapping/{name}/rollback")
def rollback_page(
    request: Request, name: str, ws: WorkspaceDep, store: StoreDep, who: Viewer,
    csrf_token: Field = "",
) -> Response:  # fmt: skip
    check_csrf(who, csrf_token)

    def act() -> Response:
        done = rollback_version(ws, store, name, None, who=identity(who))
        return _back(name, "rolled-back", done["promoted"])

    return _act(request, ws, store, who, name, act)


def _approvals_page(
    request: Request, store: Store, who: Principal, *, notice: str = "", error: str = "",
    status: int = 200,
) -> HTMLResponse:  # fmt: skip
    context = _context(who, rows=awaiting_approval(store), notice=notice, error=error)
    return templates.TemplateResponse(request, "approvals.html", context, status_code=status)


@router.get("/approvals")
def approvals_page(
    request: Request, store: StoreDep, who: Viewer, notice: str = "", key: str = ""
) -> HTMLResponse:
    return _approvals_page(request, store, who, notice=_notice(notice, key))


@router.post("/approvals/decide")
def decide_page(
    request: Request, ws: WorkspaceDep, store: StoreDep, who: Viewer, csrf_token: Field = "",
    key: Field = "", decision: Field = "", reason: Field = "",
) -> Response:  # fmt: skip
    check_csrf(who, csrf_token)
    try:
        decide_record(ws, store, key, who=identity(who), approve=decision == "approve",
                      reason=reason)  # fmt: skip
    except HTTPException as exc:
        return _approvals_page(request, store, who, error=str(exc.detail),
                               status=exc.status_code)  # fmt: skip
    kind = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(f"/approvals?notice={kind}&key={quote(key, safe='')}", 303)
