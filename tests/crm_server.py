"""A real BottleCRM (PyPI django-crm 1.35.0) on loopback, for the two-way sync tests.

Why a process of its own: the CRM needs Python >= 3.12 and ships top-level packages
with generic names (`accounts`, `crm`, `tasks`), so it lives in its own virtual
environment, built once by `scripts/crm/setup.sh` into `CRM_HOME` (default
`~/.cache/billbridge/bottlecrm`, outside the clone, so CI machines reuse it). Every
start copies an empty SQLite template, so each test gets a fresh CRM in about 1.5 s.
The tests talk to it over HTTP only, as billbridge does.

When the CRM is not set up the tests that need it are skipped with the reason printed,
except in CI (CI=true), where `.ci/run` sets it up and its absence is a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

RECIPE = Path(__file__).resolve().parents[1] / "scripts" / "crm"
DEFAULT_HOME = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "billbridge"


def crm_home() -> Path:
    return Path(os.environ.get("CRM_HOME", DEFAULT_HOME / "bottlecrm"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class CrmServer:
    """One running CRM: its base URL, an admin's personal access token, its webhook secret."""

    base_url: str
    token: str
    org_id: str
    webhook_secret: str = ""
    hooks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One JSON call as the admin; returns (status, parsed body or text)."""
        answer = httpx.request(
            method,
            self.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        """X-BottleCRM-Signature: t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>." + body))."""
        parts = dict(p.split("=", 1) for p in headers["X-BottleCRM-Signature"].split(","))
        want = hmac.new(
            self.webhook_secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(want, parts["v1"])


def require_crm() -> tuple[Path, Path]:
    """The CRM's Python and template, or a skip (a failure when CI=true) saying how to set up."""
    home = crm_home()
    python, template = home / "venv" / "bin" / "python", home / "crm_template.sqlite3"
    if not (python.exists() and template.exists()):
        reason = f"BottleCRM is not set up in {home}: run `bash scripts/crm/setup.sh {home}`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required when CI=true; .ci/run does it)")
        pytest.skip(reason)
    return python, template


@contextmanager
def run_crm(folder: Path, *, webhook_urls: Sequence[str] = ()) -> Iterator[CrmServer]:
    """Start a fresh CRM whose data lives in `folder`; stop it (that pid only) afterwards."""
    python, template = require_crm()
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "info.json"
    port = _free_port()
    command = [
        str(python), str(RECIPE / "run_crm.py"), "--template", str(template),
        "--db", str(folder / "crm.sqlite3"), "--port", str(port), "--info", str(info),
    ]  # fmt: skip
    for url in webhook_urls:
        command += ["--webhook-url", url]
    with (folder / "out.log").open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        while not info.exists():
            if proc.poll() is not None:
                pytest.fail("the CRM exited:\n" + (folder / "out.log").read_text()[-3000:])
            if time.monotonic() - started > 90:
                pytest.fail("the CRM did not start within 90 s")
            time.sleep(0.05)
        data = json.loads(info.read_text())
        yield CrmServer(
            base_url=data["base_url"],
            token=data["token"],
            org_id=data["org_id"],
            webhook_secret=data.get("webhook_secret", ""),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)


@contextmanager
def webhook_sink() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback receiver that answers 200 and keeps every delivery (headers, raw body)."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append((dict(self.headers), self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()
