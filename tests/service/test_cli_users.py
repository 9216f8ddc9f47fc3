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
