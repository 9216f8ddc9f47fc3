"""The queue's causes in the web UI: preview the replay of a whole cause, then replay it.

Why its own module: the queue page (ui.py) lists causes and rows; these two forms act on
one cause at a time through the same call as `billbridge replay --cause` and
`POST /api/queue/causes/replay`, so the audit rows are the same whoever clicks.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billbridge.config import Workspace
from billbridge.domain import plural

from . import actions
from .auth import Principal, allows
from .deps import StoreDep, check_csrf, ui_user, workspace
from .ui import templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Operator = Annotated[Principal, Depends(ui_user("operator"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]
_SHOWN = 5  # journal entries shown in a preview (the count says how many there are)


@router.post("/queue/causes/preview")
def preview_cause(
    request: Request,
    store: StoreDep,
    ws: WorkspaceDep,
    who: Operator,
    cause: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """A dry run of every record of the cause: what would post, what would still fail."""
    check_csrf(who, csrf_token)
    done = actions.replay_a_cause(ws, store, cause, actor=who.actor, dry_run=True)
    entries = [e for r in done.results for e in r.dry_run_entries]
    problems = [p for r in done.results for p in r.dry_run_problems]
    would_post = sum(r.counts["synced"] for r in done.results)
    context = {
        "who": who, "can_act": allows(who.role, "operator"), "cause": done.cause,
        "entries": entries[:_SHOWN], "more": max(0, len(entries) - _SHOWN),
        "entry_count": len(entries), "problems": problems, "would_post": would_post,
        "plural": plural,
    }  # fmt: skip
    return templates.TemplateResponse(request, "cause_preview.html", context)


@router.post("/queue/causes/replay")
def replay_cause(
    store: StoreDep,
    ws: WorkspaceDep,
    who: Operator,
    cause: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Replay every record of the cause; the queue page says how many left the queue."""
    check_csrf(who, csrf_token)
    done = actions.replay_a_cause(ws, store, cause, actor=who.actor, dry_run=False)
    left = sum(1 for state in done.states if state["state"] != "done")
    query = f"notice=cause-replayed&key={quote(cause, safe='')}&done={len(done.states) - left}"
    return RedirectResponse(f"/queue?{query}&left={left}", status_code=303)
