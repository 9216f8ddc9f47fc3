"""A real `billbridge serve` on a loopback port, over a demo workspace with one broken record.

Why a real server (uvicorn in a thread) rather than an in-process test client: the
browser tests need one anyway, and the cookies, redirects and headers the API tests
see are then exactly what a browser or a script sees.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from billbridge.config import Workspace, load_workspace
from billbridge.engine.run import sync_flow
from billbridge.service.app import create_app, proxy_options
from billbridge.service.auth import create_token, digest, hash_password
from billbridge.store.base import Role, Store
from billbridge.wiring import flows, open_workspace_store
from billbridge.workspace_files import DEMO_BROKEN_RECORD, create_demo

BROKEN = DEMO_BROKEN_RECORD
USERS: dict[Role, str] = {"viewer": "vera", "operator": "otto", "admin": "ada"}


def password(name: str) -> str:
    return f"{name}-password-123"


@dataclass
class Service:
    url: str
    workspace: Workspace
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.workspace.root

    def store(self) -> Store:
        return open_workspace_store(self.workspace)

    def api(self, role: str | None = None, **headers: str) -> httpx.Client:
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return self._client(headers)

    def _client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60)
        self.clients.append(client)
        return client

    def browser_login(self, role: str) -> tuple[httpx.Client, str]:
        """An httpx client logged in through the login form; returns it and the CSRF token."""
        client = self._client()
        login_page = client.get("/login")
        token = csrf_of(login_page.text)
        name = USERS[role]  # type: ignore[index]
        answer = client.post(
            "/login", data={"username": name, "password": password(name), "csrf_token": token}
        )
        assert answer.status_code == 303, answer.text
        return client, csrf_of(client.get("/queue").text)

    def fix_mapping(self) -> None:
        """The fix the queue row's hint asks for: give the unmapped tax rate an account."""
        mapping = self.root / "mapping.yaml"
        text = mapping.read_text()
        mapping.write_text(
            text.replace(
                "tax_rates:\n", "tax_rates:\n  txr_at_vat20: Liabilities:Tax:At-Vat20\n", 1
            )
        )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_workspace(root: Path, create: Callable[[Path], object] | None = None) -> Workspace:
    """`create` writes the workspace's files (default: the demo, with one broken record);
    then every flow is synced once and the test users exist."""
    if create is None:
        create_demo(root, invoices=12)
    else:
        create(root)
    ws = load_workspace(root)
    store = open_workspace_store(ws)
    try:
        with flows(ws) as lookup:
            for flow in ws.flows:
                sync_flow(lookup(flow.name), store, actor="setup")
        for role, name in USERS.items():
            store.add_user(name=name, role=role, password_hash=hash_password(password(name)))
    finally:
        store.close()
    return ws


BACKENDS = pytest.mark.parametrize(
    "service", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def workspace_files() -> Callable[[Path], object] | None:
    """What writes the served workspace's files (None: the demo); a module may override it."""
    return None


@pytest.fixture
def service(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    workspace_files: Callable[[Path], object] | None,
) -> Iterator[Service]:
    """The server over SQLite; over PostgreSQL too where a module applies `BACKENDS`."""
    if getattr(request, "param", "sqlite") == "postgres":
        monkeypatch.setenv("BILLBRIDGE_STATE", request.getfixturevalue("pg_url"))
    ws = make_workspace(tmp_path / "ws", workspace_files)
    port = _free_port()
    # The tests play a TLS-terminating proxy on loopback (X-Forwarded-Proto), so the
    # server trusts forwarded headers from there, as `serve --forwarded-allow-ips` would.
    config = uvicorn.Config(
        create_app(ws), host="127.0.0.1", port=port, log_level="warning", ws="none",
        lifespan="on", **proxy_options("127.0.0.1"),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("billbridge serve did not start within 15 s")
        time.sleep(0.02)
    svc = Service(url=f"http://127.0.0.1:{port}", workspace=ws)
    store = svc.store()
    try:
        for role, name in USERS.items():
            svc.tokens[role] = create_token(store, user=name, label="tests")
        svc.tokens["expired"] = create_token(
            store, user="ada", expires_at=datetime.now(UTC) - timedelta(minutes=1)
        )
        store.add_session(
            session_hash=digest("expired-session"), user="ada", csrf="c",
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )  # fmt: skip
    finally:
        store.close()
    try:
        yield svc
    finally:
        for client in svc.clients:
            client.close()
        server.should_exit = True
        thread.join(timeout=10)
