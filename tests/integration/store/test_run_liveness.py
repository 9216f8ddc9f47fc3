"""Which `running` runs are dead (issue 13, finding 6): real processes, both stores.

A run is owned by a process (host, pid, a token per run). The next run of its flow (and
`status`, the daily report, the Runs page) closes as `crashed` only the runs whose
process is gone: another live process's run, and a run this very process is running in
another thread, stay `running`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from billbridge.engine.liveness import REMOTE_STALE, RunLife, close_dead_runs, this_host
from billbridge.store import RunOwner, Store

from .conftest import raw


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_run_of_a_live_process_stays_running_and_a_dead_ones_is_crashed(store: Store) -> None:
    child = _sleeper()
    try:
        owner = RunOwner(host=this_host(), pid=child.pid, token="t-child")
        run = store.start_run(flow="f", kind="live", actor="a", owner=owner)
        assert close_dead_runs(store, flow="f") == []
        assert store.get_run(run.id).status == "running"  # type: ignore[union-attr]
    finally:
        child.kill()
        child.wait(timeout=10)
    assert close_dead_runs(store, flow="f") == [run.id]
    closed = store.get_run(run.id)
    assert closed is not None and closed.status == "crashed"
    assert closed.finished_at is not None
    assert f"its process (pid {child.pid}) is gone" in closed.error
    assert close_dead_runs(store, flow="f") == []  # closed once
    (audit,) = [r for r in store.audit_rows() if r.action == "run-crashed"]
    assert audit.run_id == run.id and audit.diff["status"] == ["running", "crashed"]


def test_runs_of_this_process_are_alive_while_it_runs_them(store: Store) -> None:
    life = RunLife(store, flow="f", kind="live", actor="a")  # as another thread of `serve`
    stray = store.start_run(
        flow="f",
        kind="live",
        actor="a",
        owner=RunOwner(host=this_host(), pid=os.getpid(), token="not-running-here"),
    )
    assert close_dead_runs(store) == [stray.id]
    assert store.get_run(life.run.id).status == "running"  # type: ignore[union-attr]
    life.finish(counts={"synced": 1}, status="finished")
    assert store.get_run(life.run.id).status == "finished"  # type: ignore[union-attr]


def test_runs_of_another_host_are_judged_by_their_heartbeat(store: Store) -> None:
    owner = RunOwner(host="elsewhere/pid:[1]", pid=os.getpid(), token="remote")
    run = store.start_run(flow="f", kind="live", actor="a", owner=owner)
    now = datetime.now(UTC)
    assert close_dead_runs(store, now=now + REMOTE_STALE - timedelta(minutes=1)) == []
    store.touch_run(run.id)
    beaten = store.get_run(run.id)
    assert beaten is not None and beaten.heartbeat_at is not None
    assert run.heartbeat_at is not None and beaten.heartbeat_at >= run.heartbeat_at
    stale = store._ts(now - REMOTE_STALE - timedelta(minutes=1))  # type: ignore[attr-defined]
    mark = "?" if store.dialect == "sqlite" else "%s"
    with raw(store) as conn:  # the heartbeat stopped a while ago
        conn.execute(f"UPDATE runs SET heartbeat_at = {mark} WHERE id = {mark}", (stale, run.id))
    assert close_dead_runs(store) == [run.id]
    closed = store.get_run(run.id)
    assert closed is not None and "no sign of life from host elsewhere since" in closed.error


def test_a_run_from_before_owners_were_kept_is_judged_by_its_age(store: Store) -> None:
    run = store.start_run(flow="f", kind="live", actor="a")  # no owner, as before 0020
    assert close_dead_runs(store) == []
    assert close_dead_runs(store, now=datetime.now(UTC) + REMOTE_STALE) == [run.id]
