"""A receiver killed (SIGKILL) after answering 2xx loses nothing and posts nothing twice.

The receiver runs in a child process with BILLBRIDGE_CRASH_AT set: it stores the event,
answers 200, and dies while processing, either right after writing to the ledger
(before the store commit) or right after the commit (before the event is marked). A
fresh receiver then gets the next delivery, drains the inbox, and the invoice is in
the ledger exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from beancount import loader

from billbridge.samples import generate
from billbridge.wiring import open_workspace_store

from ._webhooks import KEY, SECRET, event, signature, wait_for, webhook_workspace

HERE = Path(__file__).parent


@contextmanager
def receiver(root: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "webhook_main.py"), str(sock.fileno()), str(root),
         "stripe-to-books"],
        pass_fds=(sock.fileno(),),
        env={**os.environ, "STRIPE_API_KEY": KEY, "STRIPE_WEBHOOK_SECRET": SECRET, **env},
    )  # fmt: skip
    sock.close()
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)


def _post(base: str, payload: bytes) -> httpx.Response:
    headers = {"Stripe-Signature": signature(payload), "Content-Type": "application/json"}
    return httpx.post(f"{base}/webhooks/stripe", content=payload, headers=headers, timeout=20)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after-write:1", "after-inbox-commit:1"])
def test_killed_after_the_answer_then_drained_once(tmp_path: Path, point: str) -> None:
    workspace = webhook_workspace(tmp_path / "ws")
    objects = {o["object"]: o for o in generate(invoices=1, seed=3, api="current")}
    now = int(time.time())
    invoice = event(objects["invoice"], type="invoice.finalized", created=now, ident="evt_1")
    with receiver(workspace.root, BILLBRIDGE_CRASH_AT=point) as (base, proc):
        assert _post(base, invoice).status_code == 200
        assert proc.wait(timeout=20) == -signal.SIGKILL
    store = open_workspace_store(workspace)
    assert [r.event_id for r in store.inbox_pending("stripe")] == ["evt_1"]
    store.close()

    customer = event(objects["customer"], type="customer.updated", created=now, ident="evt_2")
    with receiver(workspace.root) as (base, _):
        assert _post(base, customer).status_code == 200

        def drained() -> bool:
            store = open_workspace_store(workspace)
            try:
                return store.inbox_pending("stripe") == []
            finally:
                store.close()

        assert wait_for(drained)
    entries, errors, _ = loader.load_file(str(workspace.root / "books" / "main.beancount"))
    assert errors == []
    keys = [e.meta.get("billbridge-key") for e in entries]
    assert keys.count(f"stripe:invoice:{objects['invoice']['id']}") == 1
