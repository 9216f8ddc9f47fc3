"""A person's edit to billbridge's own ledger file never stops the flow.

Before: an entry appended to `billbridge.beancount` (with a blank line before it) made
`reconcile --fix` and every `sync` refuse with "the committed position … is not the start
of an entry (found \\n)", naming no way out. Now whitespace at the committed position is
no corruption, an entry a person added after it is an edit for `reconcile` to report and
`--fix` to reverse, and a file that truly disagrees with the store names both ways out:
restore it, or adopt it as it is now (`billbridge books adopt`, audited).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from billbridge.connectors.beancount import posted_keys

from .conftest import Workspace, make_workspace
from .test_sync_flow import _bean_check, expected_facets


def _synced(tmp_path: Path, state_url: str, invoices: int = 20) -> Workspace:
    ws = make_workspace(tmp_path / "ws", state_url, invoices=invoices)
    code, _ = ws.cli("sync")
    assert code == 1  # the deliberate faults
    return ws


def _first_entry(ws: Workspace) -> str:
    """The first entry of billbridge's file, as a person would copy it (no terminator)."""
    return ws.entries_file.read_text().split("; billbridge-end")[0]


def test_an_entry_pasted_at_the_end_is_reported_reversed_and_the_flow_goes_on(
    tmp_path: Path, state_url: str
) -> None:
    ws = _synced(tmp_path, state_url)
    pasted = _first_entry(ws)
    key = next(line for line in pasted.splitlines() if "billbridge-idem" in line)
    key = key.split('"')[1]
    with ws.entries_file.open("a") as handle:  # a blank line, then the pasted entry
        handle.write("\n" + pasted)

    code, found = ws.cli("reconcile")
    assert code == 1
    [dup] = [d for f in found["flows"] for d in f["discrepancies"]]
    assert dup["kind"] == "duplicate_posting" and dup["idempotency_key"] == key
    assert "--fix" in dup["hint"]

    code, fixed = ws.cli("reconcile", "--fix")
    assert fixed["flows"][0]["fixes"]["reversed"], fixed
    assert fixed["flows"][0]["fixes"]["failed"] == []
    code, run = ws.cli("sync")
    assert code in {0, 1} and "stopped" not in run, run  # nothing stops the flow
    assert run["counts"]["unchanged"] == len(ws.records())

    assert pasted in ws.entries_file.read_text()  # the person's entry is still there
    assert subprocess.run([_bean_check(), str(ws.ledger)], check=False).returncode == 0
    code, again = ws.cli("reconcile")
    assert code == 0, again
    counts = posted_keys(ws.ledger)
    assert counts[key] == 2  # the pasted copy and the original, and one reversal after them
    assert set(counts) >= expected_facets(ws.records())


def test_blank_lines_and_a_persons_own_entry_at_the_end_stop_nothing(
    tmp_path: Path, state_url: str
) -> None:
    ws = make_workspace(tmp_path / "ws", state_url, invoices=14)
    export = ws.export.read_bytes()
    lines = export.splitlines(keepends=True)
    ws.export.write_bytes(b"".join(lines[: len(lines) // 2]))  # the first half arrives first
    ws.cli("sync")
    mine = (
        '2024-02-01 * "Office rent"\n'
        "  Expenses:Rent                          100.00 EUR\n"
        "  Assets:Bank:Checking                  -100.00 EUR"  # no final newline either
    )
    with ws.entries_file.open("a") as handle:
        handle.write("\n\n\n" + mine)
    ws.export.write_bytes(export)  # the rest arrives: written after the person's lines
    code, run = ws.cli("sync")
    assert code == 1 and "stopped" not in run, run
    assert run["posted"] > 0
    text = ws.entries_file.read_text()
    assert mine in text
    assert "; billbridge-end (the lines above were not written by billbridge)" in text
    assert set(posted_keys(ws.ledger)) == expected_facets(ws.records())
    assert set(posted_keys(ws.ledger).values()) == {1}


def test_a_file_that_disagrees_with_the_store_says_how_to_get_out_and_can_be_adopted(
    tmp_path: Path, state_url: str
) -> None:
    ws = _synced(tmp_path, state_url, invoices=10)
    whole = ws.entries_file.read_bytes()
    # restored from a backup taken in the middle of the last sync: shorter than committed
    backup = whole[: whole.index(b"; billbridge-end", len(whole) // 2)]
    backup = backup[: backup.rindex(b"\n\n") + 2]
    ws.entries_file.write_bytes(backup)

    code, refused = ws.cli("sync")
    assert code == 2
    message = refused["error"]
    assert "restore" in message and "billbridge books adopt stripe-to-books" in message

    code, adopted = ws.cli("books", "adopt", "stripe-to-books", "--reason", "restored backup")
    assert code == 0, adopted
    assert adopted["position_after"] == len(backup)
    _code, audit = ws.cli("audit", "--limit", "100000")
    [row] = [a for a in audit if a["action"] == "target-adopted"]
    assert row["diff"]["reason"] == [None, "restored backup"]

    code, run = ws.cli("sync")
    assert code in {0, 1} and "stopped" not in run, run
    # what the backup lost is now for reconcile: posted by billbridge, not in the books
    code, found = ws.cli("reconcile")
    missing = {d["record_key"] for f in found["flows"] for d in f["discrepancies"]}
    lost = {k.split("|")[1] for k in expected_facets(ws.records()) - set(posted_keys(ws.ledger))}
    assert lost and lost <= missing
