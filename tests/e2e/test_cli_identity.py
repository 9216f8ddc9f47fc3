"""Who the CLI acts as (issue 17): a signed-in user on production, the environment elsewhere.

`billbridge login` checks a password against the store and keeps a token only its OS user
can read; `logout` revokes it. With users in the store, a state-changing command on a
production flow refuses to run unsigned, and a signed-in user's role must allow it; a
sandbox, or a store without users, keeps the name from the environment.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.config import load_workspace
from billbridge.identity import login_file, new_token
from billbridge.service.auth import hash_password
from billbridge.wiring import open_workspace_store

from .conftest import Workspace, make_workspace

PASSWORD = "correct-horse-battery"


@pytest.fixture
def ws(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("BILLBRIDGE_STATE", state_url)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("BILLBRIDGE_TOKEN", raising=False)
    return make_workspace(tmp_path / "ws", state_url, invoices=10)


def _cli(ws: Workspace, *args: str, stdin: str = "", **env: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, ["-w", str(ws.root), *args, "--json"], input=stdin,
                                env={**ws.env(), **env})  # fmt: skip
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    text = result.stdout.strip()
    return result.exit_code, orjson.loads(text) if text else None


def _users(ws: Workspace) -> str:
    store = open_workspace_store(load_workspace(ws.root, env=ws.env()))
    try:
        store.add_user(name="otto", role="operator", password_hash=hash_password(PASSWORD))
        store.add_user(name="vera", role="viewer", password_hash=hash_password(PASSWORD))
        return new_token(store, user="vera")
    finally:
        store.close()


def test_production_with_users_needs_a_signed_in_user(ws: Workspace) -> None:
    code, run = _cli(ws, "sync")  # no users yet: the environment's name, as before
    assert code == 1 and run["counts"]["synced"]
    vera = _users(ws)
    code, out = _cli(ws, "sync")
    assert code == 2 and "sign in first" in out["error"]
    code, out = _cli(ws, "sync", "--dry-run")  # a dry run changes nothing: no sign-in
    assert code == 0 and "error" not in out
    code, out = _cli(ws, "sync", BILLBRIDGE_TOKEN=vera)
    assert code == 2 and "vera is a viewer; `run` needs the operator role" in out["error"]
    code, out = _cli(ws, "sync", BILLBRIDGE_TOKEN="bb_forged")
    assert code == 2 and "not valid" in out["error"]

    code, out = _cli(ws, "login", "--user", "otto", stdin="wrong-password\n")
    assert code == 2 and out["error"] == "wrong user name or password"
    code, out = _cli(ws, "login", "--user", "otto", stdin=f"{PASSWORD}\n")
    assert (code, out["user"], out["role"]) == (0, "otto", "operator")
    path = login_file(load_workspace(ws.root, env=ws.env()).state_url())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSWORD not in path.read_text()
    code, run = _cli(ws, "sync")  # it runs (exit 1: the first sync's failures are still open)
    assert code == 1 and "error" not in run and run["queue"]["open"], run
    code, audit = _cli(ws, "audit")
    assert ("otto", "login") in [(r["actor"], r["action"]) for r in audit]
    store = open_workspace_store(load_workspace(ws.root, env=ws.env()))
    try:
        assert store.get_run(run["run"]).actor == "otto"  # type: ignore[union-attr]
    finally:
        store.close()

    code, out = _cli(ws, "logout")
    assert (code, out) == (0, {"user": "otto", "signed_out": True})
    assert not path.exists()
    code, out = _cli(ws, "sync")
    assert code == 2 and "sign in first" in out["error"]


def test_a_sandbox_keeps_the_environment_s_name(ws: Workspace) -> None:
    config = ws.root / "billbridge.yaml"
    config.write_text(config.read_text().replace(
        "path: books/main.beancount", "mode: sandbox\n    path: books/main.beancount"))  # fmt: skip
    _users(ws)
    code, run = _cli(ws, "sync")
    assert code == 1 and run["counts"]["synced"]
    code, audit = _cli(ws, "audit")
    assert {r["actor"] for r in audit if r["action"] == "posted"} == {"tester"}
