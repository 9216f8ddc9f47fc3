"""An inbox folder watched by `billbridge worker`: each file processed, moved, reported.

The worker is the real CLI in a child process (`worker --once`, as cron calls it). A
file whose records all posted goes to `done/`, one with a failed record to `failed/`,
each with `<archived name>.report.json` saying what posted where and what failed and
why. Kills between posting and moving (`BILLBRIDGE_CRASH_AT`) never post twice: the
next run reads the file again, finds its records unchanged, and moves it.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from billbridge.connectors.beancount import posted_keys
from billbridge.workspace_files import create_workspace

from .conftest import Workspace
from .files_data import FAULTS, FORMATS, GOOD, TAX_ACCOUNTS, write_register
from .test_sync_flow import _bean_check

CONFIG = """\
connections:
  inbox:
    connector: files
    path: inbox/
    layout: [generic-invoices, generic-payments]
    locale: de_DE
    date_format: "%d.%m.%Y"
  books:
    connector: beancount
    path: books/main.beancount
flows:
  - name: inbox-to-books
    from: inbox
    to: books
    mapping: mapping.yaml
    every: 1s
state: .billbridge/state.db
"""
PAYMENTS = (
    "payment_id;date;invoice_number;currency;amount;fee\nP-1;10.03.2026;INV-1;EUR;1.309,00;2,50\n"
)
FLOW = "inbox-to-books"


def inbox_workspace(root: Path, state_url: str) -> Workspace:
    create_workspace(root, tax_rates=TAX_ACCOUNTS, timezone="Europe/Berlin")
    (root / "billbridge.yaml").write_text(CONFIG)
    (root / "inbox").mkdir()
    return Workspace(root=root, state_url=state_url)


def drop(ws: Workspace, name: str, text: str | None = None) -> Path:
    """Put a file into the inbox as a person would: written elsewhere, then moved in."""
    staging = ws.root / "staging" / name
    staging.parent.mkdir(exist_ok=True)
    if text is None:
        write_register(staging, FORMATS["de_DE"])
    else:
        staging.write_text(text)
    return Path(shutil.move(staging, ws.root / "inbox" / name))


def archived(ws: Workspace, folder: str) -> dict[str, dict[str, Any]]:
    """Original file name -> its report, for every file moved into done/ or failed/."""
    found = {}
    for report in sorted((ws.root / "inbox" / folder).glob("*.report.json")):
        data = orjson.loads(report.read_bytes())
        moved = report.with_name(report.name.removesuffix(".report.json"))
        assert moved.is_file(), f"{report} has no file beside it"
        assert data["archived_as"] == f"{folder}/{moved.name}"
        found[data["file"]] = data
    return found


def waiting(ws: Workspace) -> list[str]:
    return sorted(p.name for p in (ws.root / "inbox").iterdir() if p.is_file())


def worker_once(ws: Workspace) -> tuple[int, dict[str, Any]]:
    done = ws.subprocess("worker", "--once", "--json")
    assert done.stdout.strip(), done.stderr
    return done.returncode, orjson.loads(done.stdout)


def test_the_worker_moves_each_file_to_done_or_failed_with_a_report(
    tmp_path: Path, state_url: str
) -> None:
    ws = inbox_workspace(tmp_path / "ws", state_url)
    drop(ws, "register.csv")
    drop(ws, "payments.csv", PAYMENTS)

    code, report = worker_once(ws)
    assert code == 1  # the register's faults failed; the queue and its report say which
    (job,) = report["jobs"]
    assert (job["job"], job["flow"]) == ("sync", FLOW)
    assert waiting(ws) == []

    done, failed = archived(ws, "done"), archived(ws, "failed")
    assert set(done) == {"payments.csv"} and set(failed) == {"register.csv"}
    pay = done["payments.csv"]
    assert pay["status"] == "done" and pay["counts"] == {"posted": 1}
    (record,) = pay["records"]
    assert record["record"] == "inbox:payment:P-1" and record["lines"] == [2]
    assert record["postings"][0]["facet"] == "payment"
    assert record["postings"][0]["at"].startswith("billbridge.beancount:")

    register = failed["register.csv"]
    assert register["counts"] == {"failed": len(FAULTS), "posted": len(GOOD)}
    outcomes = {r["record"].rsplit(":", 1)[1]: r for r in register["records"]}
    for ident, column in FAULTS.items():
        row = outcomes[ident]
        assert row["outcome"] == "failed" and row["field"] == column, row
        assert row["error"].startswith("register.csv, ") and row["hint"], row
    assert outcomes["BAD-DATE"]["lines"] == [7]
    assert "'03/09/2026' is not a date in the format DD.MM.YYYY" in outcomes["BAD-DATE"]["error"]
    assert outcomes["INV-9"]["lines"] == [4, 10]
    for inv in GOOD:
        assert outcomes[inv.number]["outcome"] == "posted", outcomes[inv.number]
    ledger = ws.entries_file.read_bytes()
    assert posted_keys(ws.ledger)[f"{FLOW}|inbox:payment:P-1|payment"] == 1

    # Reconcile reads what the inbox once held (done/ and failed/): nothing is orphaned.
    answer = ws.subprocess("reconcile", "--json")
    kinds = {d["kind"] for f in orjson.loads(answer.stdout)["flows"] for d in f["discrepancies"]}
    assert "orphan_in_target" not in kinds and "missing_in_target" not in kinds, kinds

    # Nothing waits: the next poll runs and posts nothing.
    time.sleep(1.1)
    code, report = worker_once(ws)
    assert report["jobs"][0]["counts"]["synced"] == 0

    # The same register dropped again is processed again and posts nothing.
    drop(ws, "register.csv")
    time.sleep(1.1)
    code, report = worker_once(ws)
    (job,) = report["jobs"]
    assert job["counts"]["unchanged"] == len(GOOD) + len(FAULTS), job
    assert waiting(ws) == []
    assert ws.entries_file.read_bytes() == ledger
    assert len(list((ws.root / "inbox" / "failed").glob("*-register.csv"))) == 2
    assert subprocess.run([_bean_check(), str(ws.ledger)], check=False).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before-settle:1", "after-write:1", "after-commit:1"])
def test_a_kill_between_posting_and_moving_never_posts_twice(
    tmp_path: Path, state_url: str, point: str
) -> None:
    ws = inbox_workspace(tmp_path / "ws", state_url)
    drop(ws, "register.csv")
    drop(ws, "payments.csv", PAYMENTS)

    killed = ws.subprocess("sync", "--json", BILLBRIDGE_CRASH_AT=point)
    assert killed.returncode == -signal.SIGKILL, (killed.stdout, killed.stderr)
    assert waiting(ws) == ["payments.csv", "register.csv"]  # posted (some), not moved

    again = ws.subprocess("sync", "--json")
    assert again.returncode in {0, 1}, again.stderr  # 1 when the faults failed in this run
    assert waiting(ws) == []
    assert set(archived(ws, "done")) == {"payments.csv"}
    assert set(archived(ws, "failed")) == {"register.csv"}
    counts = posted_keys(ws.ledger)
    expected = {f"{FLOW}|inbox:invoice:{inv.number}|issue" for inv in GOOD}
    expected.add(f"{FLOW}|inbox:payment:P-1|payment")
    assert set(counts) == expected
    assert set(counts.values()) == {1}
    assert subprocess.run([_bean_check(), str(ws.ledger)], check=False).returncode == 0
