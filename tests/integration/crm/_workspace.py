"""Workspaces and servers the CRM tests share: a receiver on a socket bound before the CRM
starts (the CRM needs the URL, the receiver the CRM's secret), and CLI runs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.workspace_files import create_workspace
from tests.crm_server import CrmServer

TEST_KEY = "sk_test_billbridge_localstripe"


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving_on(sock: socket.socket, app_: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on an already bound loopback socket, in a thread."""
    server = uvicorn.Server(uvicorn.Config(app_, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def crm_env(crm: CrmServer) -> dict[str, str]:
    return {
        "CRM_TOKEN": crm.token,
        "CRM_WEBHOOK_SECRET": crm.webhook_secret,
        "STRIPE_API_KEY": TEST_KEY,
        "BILLBRIDGE_ACTOR": "system",
    }


def crm_connection(crm: CrmServer) -> str:
    return (
        "  crm:\n    connector: bottlecrm\n"
        f"    base_url: {crm.base_url}\n"
        "    token: ${CRM_TOKEN}\n"
        "    webhook_secret: ${CRM_WEBHOOK_SECRET}\n"
    )


def books_workspace(root: Path, crm: CrmServer) -> Path:
    """CRM invoices into a Beancount ledger (flow `crm-to-books`)."""
    create_workspace(root, timezone="UTC")
    (root / "billbridge.yaml").write_text(
        "connections:\n" + crm_connection(crm)
        + "  books:\n    connector: beancount\n    path: books/main.beancount\n"
        "flows:\n  - {name: crm-to-books, from: crm, to: books, mapping: mapping.yaml}\n"
        "state: .billbridge/state.db\n"
    )  # fmt: skip
    return root


def cli(root: Path, env: dict[str, str], *args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, ["-w", str(root), *args, "--json"], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, orjson.loads(result.stdout) if result.stdout.strip() else None


def wait_for(check: Callable[[], bool], *, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


class Recorder:
    """An ASGI wrapper that keeps every POST's headers and raw body, then passes it on:
    the test can replay a delivery exactly as the CRM sent it."""

    def __init__(self, app_: Any) -> None:
        self.app = app_
        self.posts: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.posts.append((headers, body))
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
