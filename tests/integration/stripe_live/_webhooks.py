"""Helpers for webhook tests: a workspace with a webhook secret, signed Stripe events."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from billbridge.config import Workspace, load_workspace
from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES
from billbridge.workspace_files import create_workspace

EXPORT_LINE = (
    "    export: exports/stripe.jsonl      # Stripe API objects, one JSON object per line\n"
)
SECRET = "whsec_billbridge_test_secret"
KEY = "sk_test_billbridge_webhooks"


def webhook_workspace(root: Path, api_base: str = "http://127.0.0.1:9") -> Workspace:
    products = dict.fromkeys(SAMPLE_PRODUCTS, "Income:Sales")
    rates = dict.fromkeys(SAMPLE_TAX_RATES, "Liabilities:Tax:Vat")
    create_workspace(root, products=products, tax_rates=rates)
    config = root / "billbridge.yaml"
    config.write_text(
        config.read_text().replace(
            EXPORT_LINE,
            f"    api_key: ${{STRIPE_API_KEY}}\n    api_base: {api_base}\n"
            "    webhook_secret: ${STRIPE_WEBHOOK_SECRET}\n",
        )
    )
    return load_workspace(root, env={"STRIPE_API_KEY": KEY, "STRIPE_WEBHOOK_SECRET": SECRET})


def event(obj: dict[str, Any], *, type: str, created: int, ident: str) -> bytes:
    """A Stripe event envelope as the API reference shows it (`data.object` is a copy)."""
    return orjson.dumps(
        {
            "id": ident,
            "object": "event",
            "api_version": "2017-08-15",
            "created": created,
            "type": type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
    )


def signature(payload: bytes, *, secret: str = SECRET, at: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send (HMAC-SHA256 of `t.payload`)."""
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), b"%d." % stamp + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a loopback socket in a thread; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def wait_for(check: Callable[[], bool], *, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
