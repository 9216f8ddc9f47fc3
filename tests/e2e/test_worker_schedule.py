"""`billbridge worker` runs each flow's incremental sync when its `every:` has passed.

The flow reads the e2e export (with its deliberate faults); the worker is the real CLI
in a child process, `--once` as a cron job would call it, on both state stores.
"""

from __future__ import annotations

import time

import orjson

from .changes import change_source, leave_open, move_date
from .conftest import Workspace

MAPPING_LINE = "    mapping: mapping.yaml"


def _every(workspace: Workspace, value: str) -> None:
    config = workspace.root / "billbridge.yaml"
    lines = [
        line
        for line in config.read_text().splitlines(keepends=True)
        if not line.startswith("    every:")
    ]
    at = next(i for i, line in enumerate(lines) if line.startswith(MAPPING_LINE))
    lines.insert(at + 1, f"    every: {value}\n")
    config.write_text("".join(lines))


def _once(workspace: Workspace) -> tuple[int, dict[str, list[dict[str, object]]]]:
    done = workspace.subprocess("worker", "--once", "--json")
    assert done.stdout.strip(), done.stderr
    return done.returncode, orjson.loads(done.stdout)


def test_a_flow_is_synced_when_due_and_only_then(workspace: Workspace) -> None:
    _every(workspace, "1h")
    code, report = _once(workspace)
    assert code == 1  # the export's deliberate faults failed: the queue says which
    (job,) = report["jobs"]
    assert (job["job"], job["flow"]) == ("sync", "stripe-to-books")
    counts = job["counts"]
    assert isinstance(counts, dict) and counts["synced"] > 300 and counts["failed"] > 0
    posted = workspace.entries_file.read_bytes()

    assert _once(workspace) == (0, {"jobs": []})  # ran minutes ago: not due for an hour

    _every(workspace, "1s")
    time.sleep(1.1)
    code, report = _once(workspace)
    (job,) = report["jobs"]
    assert job["counts"]["synced"] == 0 and job["counts"]["failed"] == 0  # type: ignore[index]
    assert workspace.entries_file.read_bytes() == posted  # nothing posted twice


def test_a_flow_without_every_is_never_polled(workspace: Workspace) -> None:
    assert _once(workspace) == (0, {"jobs": []})
    assert not workspace.entries_file.exists()


def test_a_bad_every_names_the_file_line_and_field(workspace: Workspace) -> None:
    _every(workspace, "15x")
    done = workspace.subprocess("worker", "--once", "--json")
    assert done.returncode == 2
    error = orjson.loads(done.stdout)["error"]
    assert "billbridge.yaml:" in error and "flows[0].every" in error and "15m" in error


def test_a_conflict_left_by_a_job_makes_the_cron_run_exit_1(workspace: Workspace) -> None:
    """Cron reads the exit code: a record changed in the source after it was posted is a
    conflict only a person can settle, so `--once` says so as it does for a failure."""
    leave_open(workspace)
    _every(workspace, "1s")
    _once(workspace)
    key = change_source(workspace, move_date)
    time.sleep(1.1)
    code, report = _once(workspace)
    (job,) = report["jobs"]
    assert job["counts"]["conflict"] == 1 and job["counts"]["failed"] == 0  # type: ignore[index]
    assert code == 1
    assert key.startswith("stripe:invoice:")
