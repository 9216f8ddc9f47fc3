"""`billbridge worker` drains what the webhook receiver stored but did not process.

The receiver runs with `process=False` (what a `serve` that died right after its 2xx
leaves behind: events stored, nothing posted); the worker is the real CLI in a child
process, on SQLite (the local loop) and on PostgreSQL (procrastinate). Each invoice
must end in the ledger exactly once, every inbox row settled, and on PostgreSQL two
workers started at the same moment never run the flow at once.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from beancount import loader

from billbridge.config import Workspace
from billbridge.samples import generate
from billbridge.service.stripe_webhooks import create_webhook_app
from billbridge.wiring import open_workspace_store

from ._webhooks import KEY, SECRET, event, serving, signature, wait_for, webhook_workspace


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    old = os.environ.get("BILLBRIDGE_STATE")
    os.environ["BILLBRIDGE_STATE"] = url  # the receiver in this process reads it too
    try:
        yield url
    finally:
        if old is None:
            del os.environ["BILLBRIDGE_STATE"]
        else:
            os.environ["BILLBRIDGE_STATE"] = old


@pytest.fixture
def workspace(tmp_path: Path, state_url: str) -> Workspace:
    return webhook_workspace(tmp_path / "ws")


def _env(state_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BILLBRIDGE_STATE": state_url,
        "STRIPE_API_KEY": KEY,
        "STRIPE_WEBHOOK_SECRET": SECRET,
    }


def _worker(root: Path, state_url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "billbridge", "-w", str(root), "worker", *args],
        env=_env(state_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _store_events(workspace: Workspace, invoices: int) -> list[str]:
    """Deliver signed `invoice.finalized` events to a receiver that only stores them."""
    objects = list(generate(invoices=invoices, seed=5, api="current"))
    app = create_webhook_app(workspace, flow="stripe-to-books", process=False)
    ids = []
    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        for n, obj in enumerate(o for o in objects if o["object"] == "invoice"):
            payload = event(
                obj, type="invoice.finalized", created=int(time.time()), ident=f"evt_{n}"
            )
            answer = http.post(
                "/webhooks/stripe",
                content=payload,
                headers={"Stripe-Signature": signature(payload)},
            )
            assert answer.status_code == 200, answer.text
            ids.append(obj["id"])
    return ids


def _pending(workspace: Workspace) -> int:
    store = open_workspace_store(workspace)
    try:
        return len(store.inbox_pending("stripe"))
    finally:
        store.close()


def _posted(workspace: Workspace) -> list[str]:
    entries, errors, _ = loader.load_file(str(workspace.root / "books" / "main.beancount"))
    assert errors == []
    return [e.meta["billbridge-key"] for e in entries if "billbridge-key" in e.meta]


def _finish(proc: subprocess.Popen[bytes]) -> tuple[int, Any, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, orjson.loads(out) if out.strip() else None, err.decode()


def test_worker_once_drains_the_inbox_exactly_once(workspace: Workspace, state_url: str) -> None:
    invoices = _store_events(workspace, 4)
    assert _pending(workspace) == 4
    assert not (workspace.root / "books" / "billbridge.beancount").exists()

    code, report, err = _finish(_worker(workspace.root, state_url, "--once", "--json"))
    assert code == 0, err
    assert [(j["job"], j["flow"]) for j in report["jobs"]] == [("drain-inbox", "stripe-to-books")]
    assert report["jobs"][0]["counts"]["synced"] == 4
    assert _pending(workspace) == 0
    posted = _posted(workspace)
    assert sorted(posted) == sorted(f"stripe:invoice:{i}" for i in invoices)

    code, report, err = _finish(_worker(workspace.root, state_url, "--once", "--json"))
    assert (code, report) == (0, {"jobs": []}), err
    assert _posted(workspace) == posted
    store = open_workspace_store(workspace)
    try:
        runs = store.list_runs(flow="stripe-to-books")
        assert {r.actor for r in runs} == {"worker"}
        assert any(a.action for a in store.audit_rows(record_key=f"stripe:invoice:{invoices[0]}"))
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("state_url", ["postgres"], indirect=True)
def test_two_workers_at_once_never_run_one_flow_twice(workspace: Workspace, state_url: str) -> None:
    invoices = _store_events(workspace, 6)
    procs = [_worker(workspace.root, state_url, "--once", "--json") for _ in range(2)]
    results = [_finish(p) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], [err for *_, err in results]
    jobs = [j for _, report, _ in results for j in report["jobs"]]
    assert sum(j["counts"]["synced"] for j in jobs) == 6
    assert _pending(workspace) == 0
    assert sorted(_posted(workspace)) == sorted(f"stripe:invoice:{i}" for i in invoices)
    store = open_workspace_store(workspace)
    try:
        spans = sorted(
            (r.started_at, r.finished_at) for r in store.list_runs(flow="stripe-to-books")
        )
    finally:
        store.close()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and end <= start, f"runs of one flow overlapped: {spans}"


@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
def test_a_running_worker_drains_new_events_and_stops_on_sigterm(
    workspace: Workspace, state_url: str
) -> None:
    proc = _worker(workspace.root, state_url, "--poll", "0.2", "--json")
    try:
        time.sleep(1.5)  # started and idle
        second = _worker(workspace.root, state_url, "--once")
        code, _, err = _finish(second)
        assert code == 2
        err = err.replace("\n", "")  # rich wraps the message to the terminal width
        assert "another billbridge worker holds" in err and "state.db.worker.lock" in err

        invoices = _store_events(workspace, 2)
        assert wait_for(lambda: _pending(workspace) == 0, timeout=30)
        assert sorted(_posted(workspace)) == sorted(f"stripe:invoice:{i}" for i in invoices)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert sum(line["counts"]["synced"] for line in lines) == 2


@pytest.mark.postgres
@pytest.mark.parametrize("state_url", ["postgres"], indirect=True)
def test_serve_hands_webhook_events_to_the_workers(workspace: Workspace, state_url: str) -> None:
    """`serve --webhooks-to-workers`: stored and answered here, posted by a worker."""
    from billbridge.service.app import create_app
    from billbridge.store._postgres import split_schema

    invoices = [o for o in generate(invoices=2, seed=7, api="current") if o["object"] == "invoice"]
    app = create_app(workspace, webhooks_to_workers=True)
    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        for n, inv in enumerate(invoices):
            payload = event(inv, type="invoice.finalized", created=int(time.time()), ident=f"e{n}")
            answer = http.post(
                "/webhooks/stripe",
                content=payload,
                headers={"Stripe-Signature": signature(payload)},
            )
            assert answer.status_code == 200, answer.text
        time.sleep(0.5)  # what an in-process drain would have needed to start
        assert _pending(workspace) == 2  # nothing processed in the server

    conninfo, schema = split_schema(state_url)
    with psycopg.connect(conninfo, options=f"-c search_path={schema}") as conn:
        jobs = conn.execute(
            "SELECT task_name, lock, queueing_lock FROM procrastinate_jobs WHERE status = 'todo'"
        ).fetchall()
    # one drain waits for the two events (the queueing lock keeps a second from piling up)
    assert jobs == [
        ("billbridge.drain-inbox", "flow:stripe-to-books", "drain-inbox:stripe-to-books")
    ]

    code, report, err = _finish(_worker(workspace.root, state_url, "--once", "--json"))
    assert code == 0, err
    assert [(j["job"], j["counts"]["synced"]) for j in report["jobs"]] == [("drain-inbox", 2)]
    assert _pending(workspace) == 0
    assert sorted(_posted(workspace)) == sorted(f"stripe:invoice:{i['id']}" for i in invoices)


@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
def test_webhooks_to_workers_needs_postgresql(workspace: Workspace, state_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "billbridge", "-w", str(workspace.root), "serve",
         "--webhooks-to-workers", "--json"],
        env=_env(state_url), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    error = orjson.loads(done.stdout)["error"]
    assert "billbridge.yaml" in error and "state" in error and "PostgreSQL" in error
