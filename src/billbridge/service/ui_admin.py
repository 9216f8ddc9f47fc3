"""The admin page of the web UI: users (add, change role, remove) and API tokens (create, revoke).

Why its own module: the same store calls as `/api/users` and `/api/tokens` (and the CLI),
with the acting admin as audit actor, behind admin-only pages. A refusal (the last
admin, a short password, an unknown user) is shown on the page in plain words with the
status the API would give; a success redirects back to the page with a notice. A new
token is shown once, on its own page that no cache keeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, get_args
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billbridge.store import LastAdminError, NotFoundError
from billbridge.store.base import Role, StoreError

from .api_users import UserAdmin, UserExistsError, add_user_audited, issue_token
from .auth import MIN_PASSWORD, USER_NAME, Principal, allows
from .deps import StoreDep, check_csrf, ui_user
from .ui import templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Admin = Annotated[Principal, Depends(ui_user("admin"))]
Field = Annotated[str, Form()]
ROLES: tuple[Role, ...] = get_args(Role)
MAX_DAYS = 3650
_DIGITS = re.compile(r"[0-9]{1,19}")
NOTICES = {
    "added": "Added user {key}.",
    "role": "Changed the role of {key}.",
    "unchanged": "{key} has that role already; nothing changed.",
    "removed": "Removed user {key}; their sessions and tokens no longer work.",
    "revoked": "Revoked token {key}; its next request gets 401.",
    "already-revoked": "Token {key} was revoked already; nothing changed.",
}


class RefusedError(Exception):
    """An admin action refused, with the HTTP status and the plain-words reason shown."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _admin_page(
    request: Request, store: UserAdmin, who: Principal, *, notice: str = "", error: str = "",
    status: int = 200, form: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    now = datetime.now(UTC)
    context: dict[str, Any] = {
        "who": who, "can_act": allows(who.role, "operator"), "users": store.list_users(),
        "tokens": [(t, t.status(now)) for t in store.list_tokens()], "roles": ROLES,
        "when": _when, "notice": notice, "error": error, "form": form or {},
        "min_password": MIN_PASSWORD, "max_days": MAX_DAYS,
    }  # fmt: skip
    return templates.TemplateResponse(request, "admin.html", context, status_code=status)


def _done(kind: str, key: str | int) -> Response:
    return RedirectResponse(f"/admin?notice={kind}&key={quote(str(key), safe='')}", 303)


def _store_refusal(exc: StoreError) -> RefusedError:
    if isinstance(exc, NotFoundError):
        return RefusedError(404, str(exc).split("; `", 1)[0] + ".")
    if isinstance(exc, LastAdminError):
        return RefusedError(409, str(exc).split(" (`", 1)[0] + ".")
    if isinstance(exc, UserExistsError):
        return RefusedError(409, f"{exc}; pick another name.")
    raise exc


def _role(text: str) -> Role:
    for role in ROLES:
        if role == text:
            return role
    raise RefusedError(422, f"role: {text!r} is not one of {', '.join(ROLES)}.")


@router.get("/admin")
def admin_page(
    request: Request, store: StoreDep, who: Admin, notice: str = "", key: str = ""
) -> HTMLResponse:
    template = NOTICES.get(notice)
    return _admin_page(request, store, who, notice=template.format(key=key) if template else "")


def _run(
    request: Request,
    store: UserAdmin,
    who: Principal,
    form: dict[str, str],
    act: Callable[[], Response],
) -> Response:
    """Do `act()`; a refusal re-renders the page with the reason and the form as typed."""
    try:
        return act()
    except (StoreError, RefusedError) as exc:
        refused = exc if isinstance(exc, RefusedError) else _store_refusal(exc)
        return _admin_page(
            request, store, who, error=str(refused), status=refused.status, form=form
        )


@router.post("/admin/users/add")
def add_user(
    request: Request,
    store: StoreDep,
    who: Admin,
    name: Field = "",
    role: Field = "viewer",
    password: Field = "",
    password2: Field = "",
    csrf_token: Field = "",
) -> Response:
    check_csrf(who, csrf_token)

    def act() -> Response:
        if not re.match(USER_NAME, name):
            raise RefusedError(
                422, f"name: {name!r} is not a user name (1 to 64 letters, digits, "
                "and _ . @ - after the first character).",
            )  # fmt: skip
        if len(password) < MIN_PASSWORD:
            raise RefusedError(422, f"password: use at least {MIN_PASSWORD} characters.")
        if len(password) > 1024:
            raise RefusedError(422, "password: use at most 1024 characters.")
        if password != password2:
            raise RefusedError(422, "password: the two passwords differ; type them again.")
        add_user_audited(store, name=name, role=_role(role), password=password, actor=who.actor)
        return _done("added", name)

    return _run(request, store, who, {"name": name, "role": role}, act)


@router.post("/admin/users/role")
def change_role(
    request: Request, store: StoreDep, who: Admin, name: Field = "", role: Field = "",
    csrf_token: Field = "",
) -> Response:  # fmt: skip
    check_csrf(who, csrf_token)

    def act() -> Response:
        old = store.set_role(name, _role(role), actor=who.actor)
        return _done("unchanged" if old == role else "role", name)

    return _run(request, store, who, {}, act)


@router.post("/admin/users/remove")
def remove_user(
    request: Request, store: StoreDep, who: Admin, name: Field = "", csrf_token: Field = ""
) -> Response:
    check_csrf(who, csrf_token)

    def act() -> Response:
        store.remove_user(name, actor=who.actor)
        return _done("removed", name)

    return _run(request, store, who, {}, act)


@router.post("/admin/tokens/create")
def create_token(
    request: Request, store: StoreDep, who: Admin, user: Field = "", label: Field = "",
    expires_days: Field = "", csrf_token: Field = "",
) -> Response:  # fmt: skip
    check_csrf(who, csrf_token)
    typed = {"token_user": user, "label": label, "expires_days": expires_days}

    def act() -> Response:
        if len(label) > 200:
            raise RefusedError(422, "label: use at most 200 characters.")
        days = None
        if expires_days.strip():
            if (
                not _DIGITS.fullmatch(expires_days.strip())
                or not 1 <= int(expires_days) <= MAX_DAYS
            ):
                raise RefusedError(
                    422, f"expires in (days): {expires_days!r} is not a whole number from 1 "
                    f"to {MAX_DAYS}; leave it empty for a token that never expires.",
                )  # fmt: skip
            days = int(expires_days)
        token = issue_token(store, user=user, label=label, expires_days=days, actor=who.actor)
        page = templates.TemplateResponse(
            request, "token_created.html",
            {"who": who, "can_act": True, "user": user, "label": label, "token": token,
             "days": days},
        )  # fmt: skip
        page.headers["Cache-Control"] = "no-store"
        return page

    return _run(request, store, who, typed, act)


@router.post("/admin/tokens/revoke")
def revoke_token(
    request: Request, store: StoreDep, who: Admin, token: Field = "", csrf_token: Field = ""
) -> Response:
    check_csrf(who, csrf_token)

    def act() -> Response:
        if not _DIGITS.fullmatch(token) or not 1 <= int(token) <= 2**63 - 1:
            raise RefusedError(422, f"token: {token!r} is not a token id.")
        _row, changed = store.revoke_token(int(token), actor=who.actor)
        return _done("revoked" if changed else "already-revoked", token)

    return _run(request, store, who, {}, act)
