"""`billbridge login` and `billbridge logout`: a signed-in identity for the CLI.

Why: four-eyes needs people the store can tell apart, and the CLI otherwise only knows
the name the environment claims. `login` checks a user's password against the store
(argon2id, the `service` extra) and keeps a 12-hour API token in a file only this OS
user can read (`identity.login_file`), one per state store; every later command in
this workspace acts as that user (BILLBRIDGE_TOKEN, when set, wins). `logout` revokes
the token and deletes the file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from billbridge.identity import (
    LOGIN_HOURS,
    login_expiry,
    login_file,
    new_token_with_id,
    proven_identity,
)
from billbridge.store import AuditEvent, StoreError

from ._common import JsonOpt, WorkspaceOpt, app, emit, fail, opened, out


def _password() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True))
    return sys.stdin.readline().rstrip("\r\n")


@app.command("login")
def login_cmd(
    user: Annotated[str, typer.Option("--user", prompt=True, help="Your user name.")],
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Sign in as a user of this workspace's store, for 12 hours (password from a prompt)."""
    try:
        from billbridge.service.auth import verify_password  # noqa: PLC0415
    except ImportError as exc:
        fail(f"billbridge login needs the service extra: pip install 'billbridge[service]' "
             f"({exc})", as_json=as_json)  # fmt: skip
    password = _password()
    with opened(workspace, as_json) as (ws, store):
        found = store.get_user(user)
        if found is None or not verify_password(found, password):
            fail("wrong user name or password", as_json=as_json)
        ident, token = new_token_with_id(
            store, user=found.name, label="cli login", expires_at=login_expiry()
        )
        via = {"via": [None, "cli"]}
        store.append_audit(AuditEvent(actor=found.name, action="login", diff=via))
        path = login_file(ws.state_url())
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{token}\n{ident}\n")
    if as_json:
        emit({"user": found.name, "role": found.role, "hours": LOGIN_HOURS})
    else:
        out.print(f"Signed in as {found.name} ({found.role}) for {LOGIN_HOURS} hours.",
                  highlight=False)  # fmt: skip


@app.command("logout")
def logout_cmd(workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Sign out: the login's token is revoked and its file deleted."""
    with opened(workspace, as_json) as (ws, store):
        path = login_file(ws.state_url())
        try:
            token, token_id = path.read_text("utf-8").split()[:2]
        except (OSError, ValueError):
            fail("not signed in (no `billbridge login` for this workspace)", as_json=as_json)
        who = proven_identity(store, token)
        name = who.name if who is not None else "?"
        # Already revoked, or removed with its user: the file goes all the same.
        with contextlib.suppress(StoreError, ValueError):
            store.revoke_token(int(token_id), actor=name)
        path.unlink(missing_ok=True)
    if as_json:
        emit({"user": name, "signed_out": True})
    else:
        out.print(f"Signed out{'' if name == '?' else f' ({name})'}.", highlight=False)
