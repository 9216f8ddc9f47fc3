"""Users and API tokens over the API (admin only): add, list, change a role, remove, revoke.

The same store calls as `billbridge user …` and `billbridge token …`; every change is
one audit row with the acting admin, written in the change's own transaction. Answers:
404 for an unknown user or token; 409 when a user exists already, or when the change
would remove or demote the last admin. A revoked token, or the tokens and sessions of a
removed user, get 401 from their next request on; a new role applies from the next
request of the user's open sessions and tokens (the role is read on every request).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from billbridge.store import LastAdminError, NotFoundError, TokenRow, TokenStatus
from billbridge.store.base import Audit, AuditEvent, Role, StoreError, UserRow, Users

from .auth import MIN_PASSWORD, USER_NAME, Principal, create_token, hash_password
from .deps import StoreDep, api_user


class UserAdmin(Users, Audit, Protocol):
    """Managing users and tokens: the users' tables, and an audit row for each change."""


__all__ = ["UserExistsError", "add_user_audited", "issue_token", "register"]

Admin = Annotated[Principal, Depends(api_user("admin"))]
MAX_ID = 2**63 - 1
UserName = Annotated[str, Path(pattern=USER_NAME)]


class UserIn(BaseModel):
    name: str = Field(pattern=USER_NAME)
    role: Role
    password: str = Field(min_length=MIN_PASSWORD, max_length=1024)


class UserOut(BaseModel):
    name: str
    role: Role
    created_at: datetime


class RoleIn(BaseModel):
    role: Role


class RemovedOut(BaseModel):
    removed: str
    role: Role
    tokens: int  # live API tokens removed with the user


class TokenIn(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    label: str = Field(default="", max_length=200)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    user: str
    token: str  # shown once; only its SHA-256 is stored


class TokenInfoOut(BaseModel):
    """A token as admins see it: never the token or its hash."""

    id: int
    user: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None  # to the minute
    revoked_at: datetime | None
    status: TokenStatus

    @classmethod
    def of(cls, row: TokenRow, now: datetime) -> TokenInfoOut:
        return cls(
            id=row.id, user=row.user, label=row.label, created_at=row.created_at,
            expires_at=row.expires_at, last_used_at=row.last_used_at,
            revoked_at=row.revoked_at, status=row.status(now),
        )  # fmt: skip


def _refused(exc: StoreError) -> HTTPException:
    if isinstance(exc, NotFoundError):
        return HTTPException(404, str(exc))
    if isinstance(exc, LastAdminError):
        return HTTPException(409, str(exc))
    raise exc


def list_users(store: StoreDep, _: Admin) -> list[UserOut]:
    return [UserOut(name=u.name, role=u.role, created_at=u.created_at) for u in store.list_users()]


class UserExistsError(StoreError):
    """A user of that name exists already."""


def add_user_audited(
    store: UserAdmin, *, name: str, role: Role, password: str, actor: str
) -> UserRow:
    """Add a user (argon2id hash) and its `user-added` audit row; the API and the page share it.

    Raises `UserExistsError` when the name is taken.
    """
    try:
        user = store.add_user(name=name, role=role, password_hash=hash_password(password))
    except StoreError as exc:
        if "already exists" in str(exc):
            raise UserExistsError(f"user {name!r} already exists") from None
        raise
    store.append_audit(
        AuditEvent(
            actor=actor, action="user-added", diff={"user": [None, name], "role": [None, role]}
        )
    )
    return user


def issue_token(
    store: UserAdmin, *, user: str, label: str, expires_days: int | None, actor: str
) -> str:
    """A new API token for an existing `user` and its `token-created` audit row (never the token).

    Raises `NotFoundError` for an unknown user. The plain token is returned once.
    """
    if store.get_user(user) is None:
        raise NotFoundError(f"no user {user!r}")
    expires = None
    if expires_days is not None:
        expires = datetime.now(UTC) + timedelta(days=expires_days)
    token = create_token(store, user=user, label=label, expires_at=expires)
    store.append_audit(
        AuditEvent(
            actor=actor, action="token-created", diff={"user": [None, user], "label": [None, label]}
        )
    )
    return token


def add_user(body: UserIn, store: StoreDep, who: Admin) -> UserOut:
    try:
        user = add_user_audited(
            store, name=body.name, role=body.role, password=body.password, actor=who.actor
        )
    except UserExistsError as exc:
        raise HTTPException(409, str(exc)) from None
    return UserOut(name=user.name, role=user.role, created_at=user.created_at)


def change_role(name: UserName, body: RoleIn, store: StoreDep, who: Admin) -> UserOut:
    """Give a user another role; applies from their next request (sessions stay open)."""
    try:
        store.set_role(name, body.role, actor=who.actor)
    except StoreError as exc:
        raise _refused(exc) from None
    user = store.get_user(name)
    if user is None:  # removed in between
        raise HTTPException(404, f"no user {name!r}")
    return UserOut(name=user.name, role=user.role, created_at=user.created_at)


def remove_user(name: UserName, store: StoreDep, who: Admin) -> RemovedOut:
    """Remove a user; their sessions and tokens stop working at once; audit rows stay."""
    try:
        user, tokens = store.remove_user(name, actor=who.actor)
    except StoreError as exc:
        raise _refused(exc) from None
    return RemovedOut(removed=user.name, role=user.role, tokens=tokens)


def add_token(body: TokenIn, store: StoreDep, who: Admin) -> TokenOut:
    try:
        token = issue_token(
            store, user=body.user, label=body.label, expires_days=body.expires_days,
            actor=who.actor,
        )  # fmt: skip
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return TokenOut(user=body.user, token=token)


def list_tokens(
    store: StoreDep, _: Admin, user: Annotated[str | None, Query(max_length=64)] = None
) -> list[TokenInfoOut]:
    """Every token (revoked and expired too), oldest first; `user` narrows to one user."""
    now = datetime.now(UTC)
    return [TokenInfoOut.of(t, now) for t in store.list_tokens(user=user)]


def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)], store: StoreDep, who: Admin
) -> TokenInfoOut:
    """Revoke a token: its next request gets 401. Revoking a revoked token changes nothing."""
    try:
        row, _changed = store.revoke_token(token_id, actor=who.actor)
    except StoreError as exc:
        raise _refused(exc) from None
    return TokenInfoOut.of(row, datetime.now(UTC))


def register(router: APIRouter) -> None:
    """Add the routes to the API's router (so the authorization matrix lists them)."""
    router.get("/users")(list_users)
    router.post("/users", status_code=201)(add_user)
    router.patch("/users/{name}")(change_role)
    router.delete("/users/{name}")(remove_user)
    router.get("/tokens")(list_tokens)
    router.post("/tokens", status_code=201)(add_token)
    router.delete("/tokens/{token_id}")(revoke_token)
