"""A sync killed at each crash point, the source changed, then resumed: a clean run's end.

The kills are real SIGKILLs at the named crash points (after a ledger write, after the
ledger's fsync, after the store commit). Before the resuming sync, the source changes
(an invoice's date, its amount, or the invoice is voided). The workspace must then end
exactly as one that never crashed and saw the same change: the same ledger keys and
amounts per account and currency, the same queue (conflicts queued the same way), the
same conflicts in the audit log, and the same reconcile findings. (A kill after a
commit resumes from the committed cursor: a change to a record behind it is read by the
pass after the resumed one, as a clean workspace reads it by its next pass.)
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .changes import CHANGES, books_of, change_source, leave_open
from .conftest import make_workspace

pytestmark = pytest.mark.slow

# The open invoices are the first records written (after 30 customers, which write
# nothing): each point lands after they are written, so the change meets them posted.
POINTS = ("after-write:5", "after-flush:1", "after-commit:2")


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_then_a_change_in_the_source_ends_as_a_clean_run(
    tmp_path: Path, state_url: str, point: str, change: str
) -> None:
    crashed = make_workspace(tmp_path / "crashed", state_url, batch_size=20, invoices=30)
    clean = make_workspace(
        tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}", batch_size=20, invoices=30
    )
    leave_open(crashed)
    leave_open(clean)

    proc = crashed.subprocess("sync", "--json", BILLBRIDGE_CRASH_AT=point)
    assert proc.returncode == -signal.SIGKILL, (proc.stdout, proc.stderr)
    clean.cli("sync")

    record = change_source(crashed, CHANGES[change])
    assert change_source(clean, CHANGES[change]) == record
    for _ in range(2):  # the resumed pass finishes from its cursor; the next reads it all
        crashed.cli("sync")
        clean.cli("sync")

    after_crash, never_crashed = books_of(crashed), books_of(clean)
    assert after_crash.keys == never_crashed.keys
    assert set(after_crash.keys.values()) == {1}
    assert after_crash.amounts == never_crashed.amounts
    assert after_crash.queue == never_crashed.queue
    assert after_crash.conflicts_audited == never_crashed.conflicts_audited
    assert after_crash.reconcile == never_crashed.reconcile
    if change != "void":
        assert (record, "conflict", "postings") in after_crash.queue
