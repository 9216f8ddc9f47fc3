"""`billbridge report daily`: synced, failed and why, waiting on whom, found and fixed."""

from __future__ import annotations

from typing import Any

import orjson
from typer.testing import CliRunner

from billbridge.cli import app

from .conftest import Workspace
from .test_sync_flow import FAULTS

FLOW = "stripe-to-books"


def _daily(ws: Workspace, *args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(
        app, ["-w", str(ws.root), "report", "daily", *args, "--json"], env=ws.env()
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, orjson.loads(result.stdout)


def test_daily_report_says_what_synced_failed_waits_and_was_fixed(workspace: Workspace) -> None:
    ws = workspace
    _, sync = ws.cli("sync")
    entries = ws.entries_file.read_text()
    with ws.ledger.open("a") as main:
        main.write("\n" + entries[: entries.index("\n\n") + 2])  # a duplicate
        main.write(
            '\n2024-03-01 * "Typed in by hand"\n'
            '  billbridge-idem: "stripe-to-books|stripe:charge:ch_handmade|payment"\n'
            "  Assets:Stripe:Clearing                  10.00 EUR\n"
            "  Assets:Receivable:Stripe               -10.00 EUR\n"
        )
    assert ws.cli("reconcile", "--fix")[0] == 0

    html = ws.root / "daily.html"
    code, report = _daily(ws, "--html", str(html))
    assert code == 0
    flow = report["flows"][FLOW]
    assert flow["runs"] == 2  # the sync and the reconcile run that posted the reversal
    assert flow["counts"]["failed"] == sync["counts"]["failed"] == len(FAULTS)
    assert flow["postings"] == sync["posted"] + 1
    assert {(f["record"], f["field"]) for f in report["failures"]} == set(FAULTS.items())
    assert all(f["why"] and f["fix"] for f in report["failures"])
    assert report["failure_reasons"] == dict.fromkeys(FAULTS.values(), 1)
    assert [(w["record"], w["kind"], w["waits_on"]) for w in report["waiting"]] == [
        ("stripe:charge:ch_handmade", "conflict", "a person")
    ]
    assert report["discrepancies"] == {
        "found": {"duplicate_posting": 1, "orphan_in_target": 1},
        "resolved": {"duplicate_posting": 1},
        "open": {"orphan_in_target": 1},
    }
    page = html.read_text()
    assert "What failed and is still open, and why" in page and "in_fault_unmapped_tax" in page

    _, empty = _daily(ws, "--hours", "0")
    assert empty["flows"][FLOW]["runs"] == 0
    assert empty["discrepancies"]["found"] == {}
