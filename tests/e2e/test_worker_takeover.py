"""A worker killed mid-job: another worker takes its flow over, nothing posted twice
(issue 13, finding 9).

Worker A is the real `billbridge worker` on PostgreSQL, killed with SIGKILL right after
its 40th ledger write (`BILLBRIDGE_CRASH_AT`): its sync job stays `doing` and keeps
the lock `flow:<name>`, which procrastinate never releases by itself. Worker B, started
after, must notice A's silence (heartbeats) and run the job again within a bounded
time, and the ledger must end with every record exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from billbridge.connectors.beancount import posted_keys
from billbridge.store._postgres import split_schema

from .conftest import Workspace, make_workspace
from .test_sync_flow import expected_facets

pytestmark = pytest.mark.postgres

FLOW = "stripe-to-books"
STALLED_AFTER = 3  # seconds (the default is 60: a takeover within about 90 s)
TAKEOVER_BOUND = 45.0  # seconds from A's death to B's finished sync, for STALLED_AFTER=3


@pytest.fixture
def ws(tmp_path: Path, pg_url: str) -> Workspace:
    workspace = make_workspace(tmp_path / "ws", pg_url, invoices=60, batch_size=20)
    config = workspace.root / "billbridge.yaml"
    lines = config.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("    mapping: mapping.yaml"))
    lines.insert(at + 1, "    every: 1h\n")
    config.write_text("".join(lines) + f"worker:\n  stalled_after: {STALLED_AFTER}s\n")
    return workspace


def _jobs(ws: Workspace) -> list[tuple[str, str, str]]:
    conninfo, schema = split_schema(ws.state_url)
    with psycopg.connect(conninfo, options=f"-c search_path={schema}") as conn:
        rows = conn.execute(
            "SELECT task_name, status::text, coalesce(lock, '') FROM procrastinate_jobs"
            " WHERE task_name <> 'billbridge.tick' ORDER BY id"
        ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _worker(ws: Workspace, *args: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "billbridge", "-w", str(ws.root), "worker", "--json", *args],
        env={**os.environ, **ws.env(**env)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _lines(out: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.splitlines() if line.startswith(b"{")]


def test_a_killed_worker_s_flow_is_taken_over_and_posted_once(ws: Workspace) -> None:
    records = ws.records()
    a = _worker(ws, "--once", BILLBRIDGE_CRASH_AT="after-write:40")
    _, err = a.communicate(timeout=120)
    died = time.monotonic()
    assert a.returncode == -signal.SIGKILL, err.decode()
    # what procrastinate leaves behind: the job `doing`, its flow locked for good
    assert _jobs(ws) == [("billbridge.sync", "doing", f"flow:{FLOW}")]
    assert 0 < sum(posted_keys(ws.ledger).values()) < len(expected_facets(records))

    b = _worker(ws)
    try:  # a finished job is deleted (`delete_jobs="successful"`): the queue empties
        while _jobs(ws) and time.monotonic() - died < TAKEOVER_BOUND:
            time.sleep(0.5)
        took = time.monotonic() - died
    finally:
        b.send_signal(signal.SIGTERM)
        out, err = b.communicate(timeout=60)
    lines = _lines(out)
    assert _jobs(ws) == [], (f"the flow stayed locked {took:.0f} s after the kill", err.decode())
    print(f"takeover: {took:.1f} s after the kill")
    assert took < TAKEOVER_BOUND
    takeover = [j for j in lines if j["job"] == "takeover"]
    assert len(takeover) == 1 and takeover[0]["flow"] == FLOW
    assert "silent for over 3 s" in takeover[0]["note"]
    (sync,) = [j for j in lines if j["job"] == "sync"]
    assert sync["flow"] == FLOW and "stopped" not in sync

    counts = posted_keys(ws.ledger)
    assert set(counts) == expected_facets(records)  # every good record posted …
    assert set(counts.values()) == {1}  # … exactly once, after the crash mid-batch
