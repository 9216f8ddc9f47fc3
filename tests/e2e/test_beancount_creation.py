"""The main Beancount file is created atomically: a kill during its creation stops nothing.

Before: the file was written in place, so a kill could leave it empty, and every later
run refused with "does not include billbridge's files" (exit 2) until a person edited it.
"""

from __future__ import annotations

import signal
from pathlib import Path

import orjson
import pytest

from billbridge.connectors.beancount import BeancountTarget, posted_keys

from .conftest import make_workspace
from .test_sync_flow import expected_facets


def test_a_kill_while_the_main_file_is_created_leaves_no_half_file(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=10)
    proc = ws.subprocess("sync", "--json", BILLBRIDGE_CRASH_AT="beancount-create")
    assert proc.returncode == -signal.SIGKILL, (proc.stdout, proc.stderr)
    assert not ws.ledger.exists()  # all of it or nothing: here nothing

    final = ws.subprocess("sync", "--json")
    assert final.returncode == 1, final.stderr  # the deliberate faults fail, the rest posts
    assert orjson.loads(final.stdout)["posted"] > 0
    assert set(posted_keys(ws.ledger)) == expected_facets(ws.records())
    assert 'include "billbridge.beancount"' in ws.ledger.read_text()


@pytest.mark.parametrize("leftover", ["", "; Main Beancount ledger, created by bill"])
def test_the_leftover_of_an_interrupted_creation_is_created_again(
    tmp_path: Path, leftover: str
) -> None:
    """An empty main file, or the start of the one billbridge writes (what an in-place
    creation killed half-way left behind), holds nothing of anyone's: the next run
    creates it again and succeeds."""
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=10)
    ws.ledger.write_text(leftover)
    code, run = ws.cli("sync")
    assert code == 1, run
    assert run["posted"] > 0
    assert set(posted_keys(ws.ledger)) == expected_facets(ws.records())


def test_a_main_file_a_person_wrote_is_never_replaced(tmp_path: Path) -> None:
    main = tmp_path / "books" / "main.beancount"
    main.parent.mkdir()
    main.write_text('option "title" "Ours"\n')
    with pytest.raises(Exception, match="does not include billbridge's files"):
        BeancountTarget("books", main)
    assert main.read_text() == 'option "title" "Ours"\n'
