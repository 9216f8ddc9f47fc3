"""A record that changes after a crash is a conflict, exactly as in a run never interrupted.

Before: postings recovered after a crash were stored with an empty entry hash, which
counted as "matches": a kill right after the ledger flush, then a changed invoice date,
and nothing was queued, nothing audited, and reconcile saw nothing either.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .changes import CHANGES, books_of, change_source, leave_open
from .conftest import make_workspace


@pytest.mark.parametrize("change", ["date", "amount"])
def test_a_change_after_a_kill_behind_the_ledger_flush_is_queued_as_a_conflict(
    tmp_path: Path, state_url: str, change: str
) -> None:
    crashed = make_workspace(tmp_path / "crashed", state_url, batch_size=500, invoices=30)
    clean = make_workspace(
        tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}", batch_size=500, invoices=30
    )
    leave_open(crashed)
    leave_open(clean)
    # one batch holds the whole export: the kill after its flush leaves every posting in
    # the ledger and none in the store
    proc = crashed.subprocess("sync", "--json", BILLBRIDGE_CRASH_AT="after-flush:1")
    assert proc.returncode == -signal.SIGKILL, (proc.stdout, proc.stderr)
    code, _ = clean.cli("sync")
    assert code == 1

    record = change_source(crashed, CHANGES[change])
    assert change_source(clean, CHANGES[change]) == record
    code, resumed = crashed.cli("sync")
    assert resumed["recovered"] > 0
    assert resumed["counts"]["conflict"] == 1
    clean.cli("sync")

    after_crash, never_crashed = books_of(crashed), books_of(clean)
    assert (record, "conflict", "postings") in after_crash.queue
    assert record in after_crash.conflicts_audited
    assert after_crash == never_crashed
