"""`billbridge user add`, `billbridge token create` and `billbridge serve` from the command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.config import load_workspace
from billbridge.service.auth import digest
from billbridge.wiring import open_workspace_store
from billbridge.workspace_files import create_workspace


def _cli(root: Path, *args: str, stdin: str = "") -> tuple[int, object]:
    result = CliRunner().invoke(
        app, ["-w", str(root), *args, "--json"], input=stdin, env={"BILLBRIDGE_ACTOR": "setup"}
    )
    output = result.stdout.strip()
    return result.exit_code, orjson.loads(output) if output else None


def test_user_add_and_token_create(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    create_workspace(root)
    code, out = _cli(root, "user", "add", "ana", "--role", "operator", stdin="a-long-password\n")
    assert (code, out) == (0, {"user": "ana", "role": "operator"})
    code, out = _cli(root, "user", "add", "ana", "--role", "viewer", stdin="a-long-password\n")
    assert code == 2
    assert "already exists" in str(out)
    code, out = _cli(root, "user", "add", "bob", "--role", "boss", stdin="a-long-password\n")
    assert code == 2
    assert "not a role" in str(out)
    code, out = _cli(root, "user", "add", "bob", stdin="short\n")
    assert code == 2
    assert "at least 12 characters" in str(out)
    code, out = _cli(root, "token", "create", "--user", "nobody")
    assert code == 2
    assert "no user 'nobody'" in str(out)

    code, out = _cli(root, "token", "create", "--user", "ana", "--label", "ci")
    assert code == 0
    token = out["token"]  # type: ignore[index]
    store = open_workspace_store(load_workspace(root))
    try:
        user = store.get_user("ana")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert "a-long-password" not in user.password_hash
        found = store.user_for_token(digest(token))
        assert found is not None
        assert found.name == "ana"
        assert store.user_for_token(token) is None, "only the hash is stored"
        audit = store.search_audit(actor="setup")
        assert [a.action for a in audit] == ["user-added", "token-created"]
        assert token not in str([a.diff for a in audit])
    finally:
        store.close()


def test_serve_listens_on_loopback_and_publishes_openapi(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    create_workspace(root)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-m", "billbridge", "-w", str(root), "serve", "--port", str(port)],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "billbridge serve did not answer in 30 s"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert "/api/queue/replay" in schema["paths"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/queue", timeout=5).status_code == 401
    finally:
        child.terminate()
        child.wait(timeout=10)


def test_user_names_are_plain(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    create_workspace(root)
    code, out = _cli(root, "user", "add", "<b>x</b>", stdin="a-long-password\n")
    assert code == 2
    assert "user name '<b>x</b>'" in str(out)


def test_user_and_token_administration(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    create_workspace(root)
    for name, role in (("ada", "admin"), ("otto", "operator")):
        code, _ = _cli(root, "user", "add", name, "--role", role, stdin="a-long-password\n")
        assert code == 0
    code, made = _cli(root, "token", "create", "--user", "otto", "--label", "ci")
    assert code == 0
    token = made["token"]  # type: ignore[index]
    _cli(root, "token", "create", "--user", "ada", "--label", "laptop")

    code, users = _cli(root, "user", "list")
    assert code == 0
    assert [(u["user"], u["role"], u["tokens"]) for u in users] == [  # type: ignore[attr-defined]
        ("ada", "admin", 1),
        ("otto", "operator", 1),
    ]
    code, tokens = _cli(root, "token", "list", "--user", "otto")
    assert code == 0
    (row,) = tokens  # type: ignore[misc]
    assert (row["user"], row["label"], row["status"]) == ("otto", "ci", "active")
    assert token not in str(tokens)

    code, out = _cli(root, "user", "role", "otto", "admin")
    assert (code, out) == (0, {"user": "otto", "role": "admin", "was": "operator"})
    code, out = _cli(root, "user", "role", "otto", "boss")
    assert code == 2
    assert "not a role" in str(out)
    code, out = _cli(root, "token", "revoke", str(row["id"]))
    assert code == 0
    assert (out["status"], out["changed"]) == ("revoked", True)  # type: ignore[index]
    code, out = _cli(root, "token", "revoke", str(row["id"]))
    assert (code, out["changed"]) == (0, False)  # type: ignore[index]
    code, out = _cli(root, "token", "revoke", "9999")
    assert code == 2
    assert "no API token 9999" in str(out)

    code, out = _cli(root, "user", "remove", "ada")
    assert (code, out) == (0, {"removed": "ada", "role": "admin", "tokens": 1})
    code, out = _cli(root, "user", "remove", "otto")
    assert code == 2
    assert "'otto' is the last admin" in str(out)
    code, out = _cli(root, "user", "role", "otto", "viewer")
    assert code == 2
    assert "last admin" in str(out)
    code, out = _cli(root, "user", "remove", "nobody")
    assert code == 2
    assert "no user 'nobody'" in str(out)

    store = open_workspace_store(load_workspace(root))
    try:
        assert store.user_for_token(digest(token)) is None, "revoked"
        actions = [(a.actor, a.action) for a in store.search_audit(actor="setup")]
        assert actions[-3:] == [
            ("setup", "role-changed"),
            ("setup", "token-revoked"),
            ("setup", "user-removed"),
        ]
        assert store.verify_audit().ok
    finally:
        store.close()


def test_user_and_token_lists_read_as_text(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    create_workspace(root)
    runner = CliRunner()
    empty = runner.invoke(app, ["-w", str(root), "token", "list"])
    assert (empty.exit_code, empty.stdout.strip()) == (0, "No API tokens.")
    _cli(root, "user", "add", "ada", "--role", "admin", stdin="a-long-password\n")
    _cli(root, "token", "create", "--user", "ada", "--label", "ci")
    users = runner.invoke(app, ["-w", str(root), "user", "list"])
    assert users.exit_code == 0
    assert "ada" in users.stdout
    assert "admin" in users.stdout
    assert "1 active token(s)" in users.stdout
    tokens = runner.invoke(app, ["-w", str(root), "token", "list"])
    assert "active" in tokens.stdout
    assert "label='ci'" in tokens.stdout
    assert "last used never" in tokens.stdout
