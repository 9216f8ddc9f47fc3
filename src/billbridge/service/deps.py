"""Per-request plumbing shared by the API and the UI: the store, the caller, role checks, CSRF.

Why a store borrowed per request (from the app's `StorePool`): one request uses it at a
time, whichever pool thread FastAPI runs the steps on, and it goes back only when no
transaction is left open; reusing it spares a connection per request (~10 ms on
PostgreSQL).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from billbridge.config import Workspace
from billbridge.store import StorePool
from billbridge.store.base import Role, Store

from .auth import Principal, allows, digest

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "LoginRequiredError",
    "StoreDep",
    "api_user",
    "check_csrf",
    "current_principal",
    "ui_user",
    "workspace",
]

SESSION_COOKIE = "bb_session"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class LoginRequiredError(Exception):
    """A web page needs a logged-in user; the app answers with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def _store(request: Request) -> Iterator[Store]:
    pool: StorePool = request.app.state.stores
    with pool.borrow() as store:
        yield store


StoreDep = Annotated[Store, Depends(_store)]


def current_principal(request: Request, store: Store) -> Principal | None:
    """A bearer token (API clients) or a session cookie (the browser); None if neither."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        user = store.user_for_token(digest(token.strip())) if scheme.lower() == "bearer" else None
        if user is None:
            raise HTTPException(
                401, "invalid or expired API token", headers={"WWW-Authenticate": "Bearer"}
            )
        return Principal(name=user.name, role=user.role, via="token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = store.session_user(digest(cookie))
        if found is not None:
            user, csrf = found
            return Principal(name=user.name, role=user.role, via="session", csrf=csrf)
    return None


def check_csrf(principal: Principal, sent: str | None) -> None:
    """A session's unsafe request must carry the session's CSRF token (bearer tokens need none)."""
    if principal.via != "session":
        return
    if not sent or not secrets.compare_digest(sent, principal.csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


def _forbidden(principal: Principal, needed: Role) -> HTTPException:
    return HTTPException(403, f"{principal.name} is a {principal.role}; this needs {needed}")


def api_user(needed: Role) -> Callable[..., Principal]:
    """A dependency: the API caller, who must hold at least role `needed`."""

    def dependency(request: Request, store: StoreDep) -> Principal:
        principal = current_principal(request, store)
        if principal is None:
            raise HTTPException(
                401, "log in or send `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        if not allows(principal.role, needed):
            raise _forbidden(principal, needed)
        if request.method in _UNSAFE:
            check_csrf(principal, request.headers.get(CSRF_HEADER))
        return principal

    return dependency


def ui_user(needed: Role) -> Callable[..., Principal]:
    """A dependency: the logged-in browser user (else a redirect to /login)."""

    def dependency(request: Request, store: StoreDep) -> Principal:
        principal = current_principal(request, store)
        if principal is None:
            raise LoginRequiredError(request.url.path)
        if not allows(principal.role, needed):
            raise _forbidden(principal, needed)
        return principal

    return dependency
