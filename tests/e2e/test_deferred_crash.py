"""`billbridge recognize` killed with SIGKILL mid-run, then run again: each piece exactly once.

The kills land where a recognition can be torn: after a ledger write that is not flushed
(`after-write`), after the flush but before the store commit (`after-flush`), and after
the commit but before the run records its date (`after-commit`). Each killed run is
followed by another killed run, then one that finishes; the books must then hold every
piece once, as a run that was never killed leaves them, on Beancount, GnuCash and the
SQL ledger.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from billbridge.connectors import beancount, gnucash, sqlgl

from .conftest import Workspace
from .ledgers import retarget
from .test_deferred_revenue import GNUCASH, deferred_workspace, recognition_keys

pytestmark = pytest.mark.slow

THROUGH = "2025-12-31"
# (--through, where to die): every killed run must have something left to write
KILLS = (
    ("2025-06-30", "after-write:1"),  # the EUR plan's pieces written, not flushed
    ("2025-06-30", "after-commit:1"),  # EUR recovered; JPY and KWD committed, date not kept
    (THROUGH, "after-write:2"),  # EUR and JPY written, KWD not
    (THROUGH, "after-flush:1"),  # EUR and JPY recovered; KWD flushed, not committed
)


def _kill_then_finish(ws: Workspace) -> dict[str, object]:
    assert ws.subprocess("sync", "--json").returncode == 0
    for through, point in KILLS:
        proc = ws.subprocess("recognize", "--through", through, "--json", BILLBRIDGE_CRASH_AT=point)
        assert proc.returncode == -signal.SIGKILL, (point, proc.stdout, proc.stderr)
    final = ws.subprocess("recognize", "--through", THROUGH, "--json")
    assert final.returncode == 0, final.stderr
    again = orjson.loads(ws.subprocess("recognize", "--through", THROUGH, "--json").stdout)
    assert again["posted"] == 0 and again["counts"]["unchanged"] == 3
    audit = orjson.loads(ws.subprocess("audit", "--json").stdout)
    # a kill after the ledger committed left pieces the store had not recorded: found again
    assert any(row["action"] == "recovered" for row in audit)
    report = orjson.loads(ws.subprocess("reconcile", "--json").stdout)
    assert report["flows"][0]["discrepancies"] == [] and report["flows"][0]["deferred"]["ok"]
    return orjson.loads(final.stdout)


def _reference(tmp_path: Path) -> Counter[str]:
    """The recognition keys of a run that was never killed."""
    ws = deferred_workspace(tmp_path / "reference", f"sqlite:///{tmp_path / 'reference.db'}")
    assert ws.cli("sync")[0] == 0
    assert ws.cli("recognize", "--through", THROUGH)[0] == 0
    return recognition_keys(beancount.posted_keys(ws.ledger))


@pytest.mark.parametrize("ledger", ["beancount", "sqlgl", "gnucash"])
def test_a_killed_recognition_posts_each_piece_exactly_once(tmp_path: Path, ledger: str) -> None:
    ws = deferred_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}")
    read: Callable[[], Counter[str]]
    balance: Callable[[], dict[tuple[str, str], Decimal]]
    if ledger == "beancount":
        read = lambda: beancount.posted_keys(ws.ledger)  # noqa: E731
        balance = lambda: beancount.balances(ws.ledger)  # noqa: E731
    elif ledger == "sqlgl":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        retarget(ws, f"    connector: sqlgl\n    url: {url}")
        read = lambda: sqlgl.posted_keys(url)  # noqa: E731
        balance = lambda: sqlgl.balances(url)  # noqa: E731
    else:
        pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
        retarget(ws, GNUCASH)
        book = ws.root / "books" / "main.gnucash"
        read = lambda: gnucash.posted_keys(book)  # noqa: E731
        balance = lambda: gnucash.balances(book)  # noqa: E731
    _kill_then_finish(ws)
    keys = recognition_keys(read())
    assert keys == _reference(tmp_path)
    assert set(keys.values()) == {1}
    books = balance()
    assert books.get(("Liabilities:Deferred-Revenue", "EUR"), 0) == 0
    assert books["Liabilities:Deferred-Revenue", "JPY"] == Decimal(-45_000)
    assert books["Income:Sales:Pro", "EUR"] == Decimal("-600.00")


def test_invoices_recovered_after_a_killed_sync_are_recognized_too(tmp_path: Path) -> None:
    """A sync killed after its ledger flush leaves postings the next run recovers from the
    ledger (with no link to their invoice): their schedules must still be found."""
    ws = deferred_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}")
    proc = ws.subprocess("sync", "--json", BILLBRIDGE_CRASH_AT="after-flush:1")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    final = orjson.loads(ws.subprocess("sync", "--json").stdout)
    assert final["recovered"] > 0
    code, run = ws.cli("recognize", "--through", THROUGH)
    assert code == 0 and run["counts"]["synced"] == 3, run
    assert recognition_keys(beancount.posted_keys(ws.ledger)) == _reference(tmp_path)
    books = beancount.balances(ws.ledger)
    assert books["Income:Sales:Pro", "EUR"] == Decimal("-600.00")
