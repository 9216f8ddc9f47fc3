"""The web UI: server-rendered Jinja2 pages over the same actions as the API (no JS build).

Every form posts the session's CSRF token; every page checks the role; a viewer sees
no action buttons and gets 403 if they post a form anyway. Login is rate-limited and
sets an HttpOnly, SameSite=Strict session cookie (Secure when served over TLS).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from billbridge.audit_anchors import verify_with_anchors
from billbridge.config import Workspace
from billbridge.domain import plural
from billbridge.engine.causes import group_causes
from billbridge.engine.cleanup import cleanup_of
from billbridge.engine.liveness import close_dead_runs
from billbridge.engine.queue import record_states
from billbridge.engine.trace import resolve_ref, trace
from billbridge.engine.words import change_text
from billbridge.store.base import AuditEvent
from billbridge.wiring import record_namer

from . import actions
from .auth import (
    SESSION_HOURS,
    LoginLimiter,
    Principal,
    allows,
    create_session,
    digest,
    verify_password,
)
from .charts import COLOURS, outcome_bars
from .deps import SESSION_COOKIE, StoreDep, check_csrf, current_principal, ui_user, workspace

__all__ = ["router", "templates"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
Viewer = Annotated[Principal, Depends(ui_user("viewer"))]
Operator = Annotated[Principal, Depends(ui_user("operator"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]
CsrfField = Annotated[str, Form()]
LOGIN_CSRF_COOKIE = "bb_login_csrf"
NOTICES = {
    "replayed": "Replayed {key}.",
    "retried": "Retried queue row {key}: {outcome}.",
    "dismissed": "Dismissed queue row {key}.",
    "cause-replayed": "Replayed cause {key}: {outcome}.",
}


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _page(request: Request, name: str, who: Principal | None, **context: Any) -> HTMLResponse:
    context |= {"who": who, "can_act": who is not None and allows(who.role, "operator")}
    return templates.TemplateResponse(request, name, context)


def _age(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{max(seconds, 0)} s"


def _outcome(done: int, left: int) -> str:
    """What a retry or replay did, in words (from the counts in the redirect)."""
    if not left:
        return f"{plural(done, 'record')} out of the queue"
    still = f"{plural(left, 'record')} still in the queue (see why below)"
    return f"{done} out of the queue, {still}" if done else still


def _notice(kind: str | None, key: str | None, done: int = 0, left: int = 0) -> str:
    template = NOTICES.get(kind or "")
    if not template:
        return ""
    return template.format(key=key or "", outcome=_outcome(done, left))


# ---------------------------------------------------------------- login
@router.get("/login")
def login_form(request: Request, next: str = "/queue") -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = _page(request, "login.html", None, csrf=token, next=_safe_next(next), error="")
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


def _safe_next(target: str) -> str:
    """Only a local path: never send a user on to another site after logging in."""
    return target if target.startswith("/") and not target.startswith("//") else "/queue"


@router.post("/login")
def login(
    request: Request,
    store: StoreDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
    next: Annotated[str, Form()] = "/queue",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not expected or not secrets.compare_digest(csrf_token, expected):
        raise HTTPException(403, "missing or wrong CSRF token; reload the login page")
    limiter: LoginLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "?"
    if limiter.blocked(client, username):
        raise HTTPException(429, "too many failed logins; wait a few minutes and try again")
    user = store.get_user(username)
    # The hash check runs first, for unknown names too: the answer takes as long either way.
    if not verify_password(user, password) or user is None:
        limiter.failed(client, username)
        return _page(
            request, "login.html", None, csrf=expected, next=_safe_next(next),
            error="Wrong user name or password.",
        )  # fmt: skip
    limiter.succeeded(client, username)
    session, _ = create_session(store, user.name)
    store.append_audit(AuditEvent(actor=user.name, action="login"))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session, max_age=SESSION_HOURS * 3600, httponly=True,
        samesite="strict", secure=_secure(request),
    )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, store: StoreDep, who: Viewer, csrf_token: CsrfField = "") -> Response:
    check_csrf(who, csrf_token)
    store.end_session(digest(request.cookies.get(SESSION_COOKIE, "")))
    store.append_audit(AuditEvent(actor=who.actor, action="logout"))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def home(request: Request, store: StoreDep) -> Response:
    return RedirectResponse("/queue" if current_principal(request, store) else "/login", 303)


# ---------------------------------------------------------------- queue
@router.get("/queue")
def queue_page(
    request: Request,
    store: StoreDep,
    ws: WorkspaceDep,
    who: Viewer,
    flow: str = "",
    kind: str = "",
    older_than_hours: str = "",
    notice: str = "",
    key: str = "",
    done: Annotated[int, Query(ge=0, le=10**9)] = 0,
    left: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    try:
        hours = float(older_than_hours) if older_than_hours else None
    except ValueError:
        hours = None
    wanted = actions.QueueFilter(flow=flow or None, kind=kind or None, older_than_hours=hours)
    namer = record_namer(ws, store)
    items = actions.filtered_queue(store, wanted, namer)
    shown = {i.id for i in items}  # the causes of the rows the filter keeps
    rows = [r for r in store.open_exceptions(flow=flow or None) if r.id in shown]
    causes = group_causes(rows, {i.record: i.words for i in items if i.words is not None})
    return _page(
        request, "queue.html", who, items=items, causes=causes, open_rows=len(rows), age=_age,
        cleanup=cleanup_of(causes),
        cleanup_limit=ws.alerts.rules.cleanup_minutes if ws.alerts is not None else 30,
        flows=[f.name for f in ws.flows], kinds=actions.KINDS, flow=flow, kind=kind,
        older_than_hours=older_than_hours, notice=_notice(notice, key, done, left),
        plural=plural,
    )  # fmt: skip


@router.post("/queue/preview")
def replay_preview(
    request: Request,
    store: StoreDep,
    ws: WorkspaceDep,
    who: Operator,
    key: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> HTMLResponse:
    check_csrf(who, csrf_token)
    results = actions.replay_records(ws, store, [key], actor=who.actor, dry_run=True)
    entries = [e for r in results for e in r.dry_run_entries]
    problems = [p for r in results for p in r.dry_run_problems]
    return _page(request, "preview.html", who, key=key, entries=entries, problems=problems)


@router.post("/queue/replay")
def replay_one(
    store: StoreDep,
    ws: WorkspaceDep,
    who: Operator,
    key: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    check_csrf(who, csrf_token)
    actions.replay_records(ws, store, [key], actor=who.actor, dry_run=False)
    return RedirectResponse(f"/queue?notice=replayed&key={_q(key)}", status_code=303)


@router.post("/queue/retry")
def retry_one(
    store: StoreDep,
    ws: WorkspaceDep,
    who: Operator,
    row: Annotated[int, Form(ge=0, le=2**63 - 1)] = 0,
    csrf_token: CsrfField = "",
) -> Response:
    check_csrf(who, csrf_token)
    pairs = actions.retry_states(store, [row])
    actions.retry_rows(ws, store, [row], actor=who.actor)
    states = record_states(store, pairs)
    left = sum(1 for state in states if state["state"] != "done")
    return RedirectResponse(
        f"/queue?notice=retried&key={row}&done={len(states) - left}&left={left}", status_code=303
    )


@router.post("/queue/dismiss")
def dismiss_one(
    store: StoreDep,
    who: Operator,
    row: Annotated[int, Form(ge=0, le=2**63 - 1)] = 0,
    reason: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    check_csrf(who, csrf_token)
    actions.dismiss(store, row, actor=who.actor, reason=reason)
    return RedirectResponse(f"/queue?notice=dismissed&key={row}", status_code=303)


def _q(text: str) -> str:
    return quote(text, safe="")


# ---------------------------------------------------------------- trace, runs, audit
@router.get("/trace")
def trace_page(
    request: Request, store: StoreDep, ws: WorkspaceDep, who: Viewer, ref: str = ""
) -> HTMLResponse:
    key = resolve_ref(store, ref) if ref else None
    result = trace(store, key, record_namer(ws, store)) if key else None
    history = actions.record_history(store, key) if key else None
    return _page(request, "trace.html", who, ref=ref, result=result, history=history, plural=plural)


@router.get("/runs")
def runs_page(request: Request, store: StoreDep, who: Viewer, flow: str = "") -> HTMLResponse:
    close_dead_runs(store)  # a run whose process died shows as crashed, not running
    # Dry runs take no run row now; rows older stores kept for them are not runs either.
    runs = [r for r in store.list_runs(flow=flow or None, limit=30) if r.kind != "dry-run"]
    bars, width = outcome_bars(runs)
    durations = {
        r.id: f"{(r.finished_at - r.started_at).total_seconds():.2f} s" if r.finished_at else "…"
        for r in runs
    }
    return _page(
        request, "runs.html", who, runs=runs, bars=bars, width=width, colours=COLOURS,
        durations=durations, flow=flow,
    )  # fmt: skip


@router.get("/audit")
def audit_page(
    request: Request,
    store: StoreDep,
    ws: WorkspaceDep,
    who: Viewer,
    record: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
    verify: str = "",
) -> HTMLResponse:
    error = ""
    bounds: list[datetime | None] = []
    for name, text, extra in (("from", since, 0), ("to", until, 1)):  # "to" includes its day
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None
        except ValueError:
            error, day = f"{name}: {text!r} is not a date (YYYY-MM-DD)", None
        bounds.append(day + timedelta(days=extra) if day else None)
    rows = store.search_audit(
        record_key=record or None, actor=actor or None, since=bounds[0], until=bounds[1]
    )
    verdict = verify_with_anchors(ws, store) if verify else None
    words = record_namer(ws, store).words(r.record_key for r in rows if r.record_key)
    shown = [
        {"row": r, "change": change_text(r.diff),
         "words": words[r.record_key].text() if r.record_key in words else ""}
        for r in reversed(rows)  # newest first
    ]  # fmt: skip
    return _page(
        request, "audit.html", who, rows=shown, record=record, actor=actor, since=since,
        until=until, verdict=verdict, error=error,
    )  # fmt: skip
