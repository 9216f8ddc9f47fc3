"""No answer shows a secret; login takes as long for an unknown name; forwarded headers
are trusted only from the proxy the operator names (issue 13, finding 12).

The secrets are real settings of a real workspace (a SQL ledger on PostgreSQL with a
password in its URL, a live Stripe connection with a key and a webhook secret), served
by the real app; every answer of the API and the pages a viewer can open is scanned.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher

from billbridge.config import load_workspace
from billbridge.service import auth
from billbridge.service.app import create_app
from billbridge.store.base import AuditEvent

from .conftest import Service, _free_port, csrf_of, make_workspace

DB_PASSWORD = "Gl-Pa55word-x7"
SSL_PASSWORD = "KeyPhrase-q9z"
STRIPE_KEY = "sk_test_SuperSecret123abc"
WEBHOOK_SECRET = "whsec_TopSecretWebhook42"
SECRETS = (DB_PASSWORD, SSL_PASSWORD, STRIPE_KEY, WEBHOOK_SECRET)
GL_URL = f"postgresql://books:{DB_PASSWORD}@127.0.0.1:5432/test?sslpassword={SSL_PASSWORD}"

VIEWER_PATHS = (
    "/api/connections", "/api/flows", "/api/runs", "/api/queue", "/api/audit",
    "/api/audit/verify", "/api/health", "/api/discrepancies", "/queue", "/runs", "/audit",
    "/metrics", "/api/records/nope", "/api/trace/nope",
)  # fmt: skip


@pytest.fixture
def secret_service(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The test server's workspace plus connections that hold every kind of secret."""
    monkeypatch.setenv("LIVE_KEY", STRIPE_KEY)
    monkeypatch.setenv("LIVE_WHSEC", WEBHOOK_SECRET)
    config = service.root / "billbridge.yaml"
    config.write_text(
        config.read_text().replace(
            "connections:\n",
            "connections:\n"
            "  live:\n    connector: stripe\n    api_key: ${LIVE_KEY}\n"
            "    webhook_secret: ${LIVE_WHSEC}\n"
            f"  gl:\n    connector: sqlgl\n    url: {GL_URL}\n",
            1,
        )
    )
    store = service.store()
    try:  # a text nobody meant to show, quoting the URL: only the scrub layer stops it
        store.append_audit(
            AuditEvent(actor="setup", action="config", diff={"target": [None, GL_URL]})
        )
    finally:
        store.close()
    return service


def _answers(service: Service, paths: tuple[str, ...]) -> dict[str, str]:
    app = create_app(load_workspace(service.root))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {service.tokens['viewer']}", "Accept": "text/html"}

    async def fetch() -> dict[str, str]:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return {p: (await client.get(p, headers=headers)).text for p in paths}

    try:
        return asyncio.run(fetch())
    finally:
        app.state.stores.close()  # no lifespan through ASGITransport: close the pool here


def test_no_answer_shows_a_secret(secret_service: Service) -> None:
    answers = _answers(secret_service, VIEWER_PATHS)
    leaks = {path: s for path, text in answers.items() for s in SECRETS if s in text}
    assert leaks == {}
    connections = answers["/api/connections"]
    assert "postgresql://books:***@127.0.0.1:5432/test?sslpassword=***" in connections
    assert '"api_key_set":true' in connections and '"webhook_secret_set":true' in connections
    assert "postgresql://books:***@" in answers["/api/audit"]  # scrubbed, still readable


def _login(client: httpx.Client, name: str, pw: str, **headers: str) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"username": name, "password": pw, "csrf_token": token}, headers=headers
    )


def test_an_unknown_user_costs_one_hash_check_like_a_known_one(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed alone: each login must run the real argon2 verification once."""
    checks: list[str] = []

    class Counting(PasswordHasher):  # the real argon2 check, counted
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checks.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(auth, "_hasher", Counting())
    client = service.api()
    assert "Wrong user name" in _login(client, "otto", "wrong-password-1").text
    assert "Wrong user name" in _login(client, "nobody-here", "wrong-password-1").text
    assert len(checks) == 2
    assert checks[1] == auth._DUMMY_HASH  # the unknown name was checked against the dummy

    def timed(name: str) -> float:
        start = time.perf_counter()
        _login(service.api(), name, "wrong-password-2")
        return time.perf_counter() - start

    known = statistics.median(timed("vera") for _ in range(3))
    unknown = statistics.median(timed(f"ghost{n}") for n in range(3))
    assert unknown / known > 0.3, (known, unknown)  # before the fix: ~0.01


@contextmanager
def _serve(root: Path, *args: str) -> Iterator[str]:
    """The real `billbridge serve` in a child process, until the block ends."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "billbridge", "-w", str(root), "serve", "--port", str(port),
         *args],
        env={k: v for k, v in os.environ.items() if k != "BILLBRIDGE_FORWARDED_ALLOW_IPS"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("billbridge serve did not start")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _guesses(url: str) -> list[int]:
    """Seven wrong passwords for one user, each from a new X-Forwarded-For address."""
    with httpx.Client(base_url=url, timeout=30) as client:
        return [
            _login(client, "otto", "guess-123", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(7)
        ]


def test_serve_trusts_forwarded_headers_only_from_the_named_proxy(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    make_workspace(root)
    with _serve(root) as url:
        codes = _guesses(url)
    assert codes == [200] * 5 + [429] * 2  # rotating the header does not reset the limit

    # the operator names loopback as the proxy: each forwarded client is counted apart
    with _serve(root, "--forwarded-allow-ips", "127.0.0.1") as url:
        codes = _guesses(url)
        behind_tls = httpx.get(f"{url}/login", headers={"X-Forwarded-Proto": "https"})
    assert codes == [200] * 7
    assert "secure" in behind_tls.headers["set-cookie"].lower()
