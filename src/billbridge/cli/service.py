"""`billbridge serve`, `billbridge user add|list|role|remove`, `billbridge token …`.

Why a module of its own: these commands need the `service` extra (FastAPI, argon2),
imported only when one of them runs, so the core CLI works without it.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from billbridge.config import ConfigError, load_workspace
from billbridge.roles import ROLES
from billbridge.store import AuditEvent, StoreError, TokenRow

from ._common import JsonOpt, WorkspaceOpt, current_actor, emit, fail, opened, out

__all__ = ["serve", "token_app", "user_app"]

user_app = typer.Typer(
    help="People and scripts allowed into `billbridge serve`.", no_args_is_help=True
)
token_app = typer.Typer(
    help="API tokens for scripts (shown once, stored hashed).", no_args_is_help=True
)
_ROLE_LIST = ", ".join(ROLES)


def _password(as_json: bool) -> str:
    """From a hidden prompt (typed twice) on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 12:
        fail("the password must have at least 12 characters", as_json=as_json)
    return password


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).")],
    role: Annotated[
        str, typer.Option(help="viewer, operator, mapper, approver or admin.")
    ] = "viewer",
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Add a user; the password comes from a prompt, or from stdin when piped."""
    from billbridge.service.auth import USER_NAME, hash_password  # noqa: PLC0415

    if not re.match(USER_NAME, name):
        fail(f"user name {name!r}: use letters, digits and _ . @ - (at most 64)", as_json=as_json)
    if role not in ROLES:
        fail(f"--role: {role!r} is not a role ({_ROLE_LIST})", as_json=as_json)
    password = _password(as_json)
    with opened(workspace, as_json) as (_ws, store):
        try:
            store.add_user(name=name, role=role, password_hash=hash_password(password))
        except StoreError as exc:
            fail(str(exc), as_json=as_json)
        store.append_audit(
            AuditEvent(
                actor=current_actor(),
                action="user-added",
                diff={"user": [None, name], "role": [None, role]},
            )
        )
    if as_json:
        emit({"user": name, "role": role})
    else:
        out.print(f"User [bold]{name}[/] added as {role}.")


@user_app.command("list")
def user_list(workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """The users allowed into `billbridge serve`, with their roles and live tokens."""
    with opened(workspace, as_json) as (_ws, store):
        users = store.list_users()
        tokens = store.list_tokens()
    now = datetime.now(UTC)
    live = {
        u.name: sum(t.user == u.name and t.status(now) == "active" for t in tokens) for u in users
    }
    rows = [
        {"user": u.name, "role": u.role, "created_at": u.created_at.isoformat(),
         "tokens": live[u.name]}
        for u in users
    ]  # fmt: skip
    if as_json:
        emit(rows)
        return
    if not rows:
        out.print("No users yet; add one with `billbridge user add NAME --role admin`.")
    for u in users:
        out.print(
            f"{u.name:<24} {u.role:<9} since {u.created_at.date()}  {live[u.name]} active token(s)",
            highlight=False, markup=False, soft_wrap=True,
        )  # fmt: skip


@user_app.command("role")
def user_role(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="viewer, operator, mapper, approver or admin.")],
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role; their open sessions and tokens use it from their next request."""
    if role not in ROLES:
        fail(f"ROLE: {role!r} is not a role ({_ROLE_LIST})", as_json=as_json)
    with opened(workspace, as_json) as (_ws, store):
        try:
            old = store.set_role(name, role, actor=current_actor())
        except StoreError as exc:
            fail(str(exc), as_json=as_json)
    if as_json:
        emit({"user": name, "role": role, "was": old})
    elif old == role:
        out.print(f"{name} is already {role}; nothing changed.", highlight=False)
    else:
        out.print(f"{name}: {old} -> {role} (from their next request).", highlight=False)


@user_app.command("remove")
def user_remove(
    name: Annotated[str, typer.Argument(help="The user to remove.")],
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Remove a user: their sessions and API tokens stop working at once; audit rows stay."""
    with opened(workspace, as_json) as (_ws, store):
        try:
            user, tokens = store.remove_user(name, actor=current_actor())
        except StoreError as exc:
            fail(str(exc), as_json=as_json)
    if as_json:
        emit({"removed": user.name, "role": user.role, "tokens": tokens})
    else:
        out.print(
            f"Removed {user.name} ({user.role}) and {tokens} active token(s); "
            "their audit rows stay.",
            highlight=False,
        )


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="The user the token acts as.")],
    label: Annotated[
        str, typer.Option(help="What the token is for (shown in the audit log).")
    ] = "",
    expires_days: Annotated[int | None, typer.Option(help="Expire after this many days.")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Create an API token; it is shown once here and stored only as a hash."""
    from billbridge.service.auth import create_token  # noqa: PLC0415

    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with opened(workspace, as_json) as (_ws, store):
        if store.get_user(user) is None:
            fail(
                f"no user {user!r}; add one with `billbridge user add {user} --role viewer`",
                as_json=as_json,
            )
        token = create_token(store, user=user, label=label, expires_at=expires)
        store.append_audit(
            AuditEvent(
                actor=current_actor(),
                action="token-created",
                diff={"user": [None, user], "label": [None, label]},
            )
        )
    if as_json:
        emit({"user": user, "token": token, "expires_at": expires.isoformat() if expires else None})
    else:
        out.print("Token (shown once; send it as `Authorization: Bearer <token>`):")
        out.print(token, highlight=False, markup=False)


def _token_json(token: TokenRow, now: datetime) -> dict[str, object]:
    def iso(at: datetime | None) -> str | None:
        return None if at is None else at.isoformat()

    return {
        "id": token.id, "user": token.user, "label": token.label,
        "created_at": token.created_at.isoformat(), "expires_at": iso(token.expires_at),
        "last_used_at": iso(token.last_used_at), "revoked_at": iso(token.revoked_at),
        "status": token.status(now),
    }  # fmt: skip


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Every API token (never the token itself): id, user, label, dates, status."""
    with opened(workspace, as_json) as (_ws, store):
        tokens = store.list_tokens(user=user)
    now = datetime.now(UTC)
    rows = [_token_json(t, now) for t in tokens]
    if as_json:
        emit(rows)
        return
    if not rows:
        out.print("No API tokens" + (f" for {user}." if user else "."), highlight=False)
    for row in rows:
        used = row["last_used_at"] or "never"
        out.print(
            f"{row['id']:>5}  {row['user']:<20} {row['status']:<8} label={row['label']!r}"
            f"  created {str(row['created_at'])[:16]}  last used {str(used)[:16]}",
            highlight=False, markup=False, soft_wrap=True,
        )  # fmt: skip


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="From `billbridge token list`.")],
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API token for good: its next request gets 401."""
    with opened(workspace, as_json) as (_ws, store):
        try:
            token, changed = store.revoke_token(token_id, actor=current_actor())
        except StoreError as exc:
            fail(str(exc), as_json=as_json)
    if as_json:
        emit({**_token_json(token, datetime.now(UTC)), "changed": changed})
    elif changed:
        out.print(f"Token {token.id} of {token.user} revoked.", highlight=False)
    else:
        out.print(f"Token {token.id} of {token.user} was already revoked.", highlight=False)


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    webhooks_to_workers: Annotated[
        bool,
        typer.Option(
            "--webhooks-to-workers",
            help="Store each Stripe event and hand it to `billbridge worker` (PostgreSQL).",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            envvar="BILLBRIDGE_FORWARDED_ALLOW_IPS",
            help="Your reverse proxy's addresses (comma-separated): X-Forwarded-For and "
            "-Proto are trusted from these only. Default: from nobody.",
        ),
    ] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """REST API and web UI (put a TLS-terminating proxy in front to serve beyond loopback)."""
    try:
        import uvicorn  # noqa: PLC0415

        from billbridge.service.app import create_app, proxy_options  # noqa: PLC0415
    except ImportError as exc:
        fail(
            f"billbridge serve needs the service extra: pip install 'billbridge[service]' ({exc})",
            as_json=as_json,
        )
    try:
        ws = load_workspace(workspace)
        app = create_app(ws, webhooks_to_workers=webhooks_to_workers)
    except ConfigError as exc:
        fail(str(exc), as_json=as_json)
    if as_json:
        emit({"url": f"http://{host}:{port}/", "workspace": str(ws.root)})
    uvicorn.run(app, host=host, port=port, log_level="info", **proxy_options(forwarded_allow_ips))
