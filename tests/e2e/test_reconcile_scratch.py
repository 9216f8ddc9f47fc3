"""A reconcile killed with SIGKILL leaves its scratch folder; the next reconcile removes it.

The scratch file of a million-record reconcile is about 2 GB, so a folder left by a kill
must not stay in the temp dir for good. The child runs with its own TMPDIR, so the test
sees exactly its folders (and never touches anyone else's in /tmp).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from .conftest import Workspace

PREFIX = "billbridge-reconcile-"


def _dead_pid() -> int:
    """The pid of a child that has exited and been reaped (no process has it now)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_reconciles_scratch_folder_is_removed_by_the_next_one(
    workspace: Workspace, tmp_path: Path
) -> None:
    ws = workspace
    code, _ = ws.cli("sync")
    assert code == 1  # the sample's deliberate faults fail; everything else posts
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    killed = ws.subprocess(
        "reconcile", "--json", TMPDIR=str(tmp), BILLBRIDGE_CRASH_AT="reconcile-collected"
    )
    assert killed.returncode == -9, killed.stderr
    (left,) = tmp.glob(f"{PREFIX}*")
    assert (left / "scratch.db").is_file()  # (its rows may still be in the page cache)
    pid, tag, _ = left.name.removeprefix(PREFIX).split("-", 2)
    assert pid.isdigit() and int(pid) != os.getpid()

    by_hand = tmp / f"{PREFIX}{_dead_pid()}-{tag}-byhand"
    live = tmp / f"{PREFIX}{os.getpid()}-{tag}-live"  # this test process: alive
    other_host = tmp / f"{PREFIX}{_dead_pid()}-{'0' * len(tag)}-remote"
    old_style = tmp / f"{PREFIX}k2x9_7qa"  # named before folders carried their pid
    for folder in (by_hand, live, other_host, old_style):
        folder.mkdir()
        (folder / "scratch.db").write_bytes(b"x" * 100)

    again = ws.subprocess("reconcile", "--json", TMPDIR=str(tmp))
    assert again.returncode == 0, again.stderr
    assert orjson.loads(again.stdout)["flows"]
    assert not left.exists()
    assert not by_hand.exists()
    assert sorted(p.name for p in tmp.iterdir()) == sorted(
        p.name for p in (live, other_host, old_style)
    )
    assert (live / "scratch.db").read_bytes() == b"x" * 100
