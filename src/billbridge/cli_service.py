"""`billbridge serve`, `billbridge user add` and `billbridge token create`.

Why a module of its own: these commands need the `service` extra (FastAPI, argon2),
imported only when one of them runs, so the core CLI works without it.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, cast

import typer

from .cli import JsonOpt, WorkspaceOpt, _actor, _emit, _fail, _opened, out
from .config import ConfigError, load_workspace
from .store import AuditEvent, StoreError
from .store.base import Role

__all__ = ["serve", "token_app", "user_app"]

user_app = typer.Typer(
    help="People and scripts allowed into `billbridge serve`.", no_args_is_help=True
)
token_app = typer.Typer(
    help="API tokens for scripts (shown once, stored hashed).", no_args_is_help=True
)
ROLES = ("viewer", "operator", "admin")


def _password(as_json: bool) -> str:
    """From a hidden prompt (typed twice) on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 12:
        _fail("the password must have at least 12 characters", as_json=as_json)
    return password


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).")],
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Add a user; the password comes from a prompt, or from stdin when piped."""
    from .service.auth import USER_NAME, hash_password  # noqa: PLC0415

    if not re.match(USER_NAME, name):
        _fail(f"user name {name!r}: use letters, digits and _ . @ - (at most 64)", as_json=as_json)
    if role not in ROLES:
        _fail(f"--role: {role!r} is not a role (viewer, operator, admin)", as_json=as_json)
    password = _password(as_json)
    with _opened(workspace, as_json) as (_ws, store):
        try:
            store.add_user(name=name, role=cast(Role, role), password_hash=hash_password(password))
        except StoreError as exc:
            _fail(str(exc), as_json=as_json)
        store.append_audit(
            AuditEvent(
                actor=_actor(),
                action="user-added",
                diff={"user": [None, name], "role": [None, role]},
            )
        )
    if as_json:
        _emit({"user": name, "role": role})
    else:
        out.print(f"User [bold]{name}[/] added as {role}.")


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
    from .service.auth import create_token  # noqa: PLC0415

    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with _opened(workspace, as_json) as (_ws, store):
        if store.get_user(user) is None:
            _fail(
                f"no user {user!r}; add one with `billbridge user add {user} --role viewer`",
                as_json=as_json,
            )
        token = create_token(store, user=user, label=label, expires_at=expires)
        store.append_audit(
            AuditEvent(
                actor=_actor(),
                action="token-created",
                diff={"user": [None, user], "label": [None, label]},
            )
        )
    if as_json:
        _emit(
            {"user": user, "token": token, "expires_at": expires.isoformat() if expires else None}
        )
    else:
        out.print("Token (shown once; send it as `Authorization: Bearer <token>`):")
        out.print(token, highlight=False, markup=False)


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
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """REST API and web UI (put a TLS-terminating proxy in front to serve beyond loopback)."""
    try:
        import uvicorn  # noqa: PLC0415

        from .service.app import create_app  # noqa: PLC0415
    except ImportError as exc:
        _fail(
            f"billbridge serve needs the service extra: pip install 'billbridge[service]' ({exc})",
            as_json=as_json,
        )
    try:
        ws = load_workspace(workspace)
        app = create_app(ws, webhooks_to_workers=webhooks_to_workers)
    except ConfigError as exc:
        _fail(str(exc), as_json=as_json)
    if as_json:
        _emit({"url": f"http://{host}:{port}/", "workspace": str(ws.root)})
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
