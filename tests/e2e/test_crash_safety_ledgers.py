"""Crash safety on the GnuCash and SQL ledgers: `billbridge sync` killed with SIGKILL.

The kills land between the target write and the state-store commit on purpose: after a
write the ledger has not committed (`after-write`), after the ledger committed but the
store did not (`after-flush`), and after the store commit (`after-commit`). The run that
follows must leave every good record posted exactly once, read from the ledger itself.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import orjson
import pytest

from billbridge.connectors import sqlgl

from .conftest import Workspace, make_workspace
from .ledgers import retarget
from .test_sync_flow import FAULTS, expected_facets

pytestmark = pytest.mark.slow

POINTS = ("after-write:1", "after-flush:1", "after-write:37", "after-flush:2", "after-commit:3")


def _kill_then_finish(ws: Workspace) -> None:
    for point in POINTS:
        proc = ws.subprocess("sync", "--json", BILLBRIDGE_CRASH_AT=point)
        assert proc.returncode == -signal.SIGKILL, (point, proc.stdout, proc.stderr)
    final = ws.subprocess("sync", "--json")
    assert final.returncode in {0, 1}, final.stderr
    queue = orjson.loads(ws.subprocess("queue", "--json").stdout)
    assert {item["record"] for item in queue} == set(FAULTS)
    audit = orjson.loads(ws.subprocess("audit", "--json").stdout)
    # the kills after a ledger commit left postings the store had not recorded: found again
    assert any(row["action"] == "recovered" for row in audit)
    check = ws.subprocess("books", "check", "--json")
    assert check.returncode == 0, check.stdout
    again = orjson.loads(ws.subprocess("sync", "--json").stdout)
    assert again["posted"] == 0 and again["counts"]["unchanged"] == len(ws.records())


def test_killed_runs_on_gnucash_end_with_every_record_posted_once(
    tmp_path: Path, state_url: str
) -> None:
    pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
    from billbridge.connectors import gnucash

    ws = retarget(
        make_workspace(tmp_path / "ws", state_url, batch_size=20, invoices=60),
        "    connector: gnucash\n    path: books/main.gnucash\n    currency: EUR",
    )
    _kill_then_finish(ws)
    book = ws.root / "books" / "main.gnucash"
    assert gnucash.posted_keys(book) == Counter(dict.fromkeys(expected_facets(ws.records()), 1))
    clean = retarget(
        make_workspace(
            tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}", batch_size=20, invoices=60
        ),
        "    connector: gnucash\n    path: books/main.gnucash\n    currency: EUR",
    )
    clean.cli("sync")
    assert gnucash.balances(book) == gnucash.balances(clean.root / "books" / "main.gnucash")


@pytest.mark.parametrize("ledger", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_killed_runs_on_the_sql_ledger_end_with_every_record_posted_once(
    tmp_path: Path, ledger: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if ledger == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    ws = retarget(
        make_workspace(
            tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", batch_size=20, invoices=60
        ),
        f"    connector: sqlgl\n    url: {url}",
    )
    _kill_then_finish(ws)
    assert sqlgl.posted_keys(url) == Counter(dict.fromkeys(expected_facets(ws.records()), 1))
    clean_url = f"sqlite:///{tmp_path / 'clean-ledger.db'}"
    clean = retarget(
        make_workspace(
            tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}", batch_size=20, invoices=60
        ),
        f"    connector: sqlgl\n    url: {clean_url}",
    )
    clean.cli("sync")
    assert sqlgl.balances(url) == sqlgl.balances(clean_url)
