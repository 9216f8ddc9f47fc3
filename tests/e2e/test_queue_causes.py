"""The morning queue from the CLI: causes first, one fix, one replay of a cause (issue 18),
and rows that always find a way out of the queue (issue 13, findings 7 and 8)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.store import open_store
from tests.e2e.alert_receiver import AlertReceiver, seen
from tests.e2e.conftest import Workspace, make_workspace
from tests.reprs import page_text, repr_marks, strings
from tests.scenario import (
    CURRENCY_CAUSE,
    TAX_CAUSE,
    TOTAL_CAUSE,
    UNMAPPED_RATE,
    fix_mapping,
    make_scenario,
)


def text(ws: Workspace, *args: str) -> tuple[int, str]:
    """Run a command without --json; return (exit code, what a person reads)."""
    result = CliRunner().invoke(app, ["-w", str(ws.root), *args], env=ws.env(COLUMNS="200"))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


def flat(said: str) -> str:
    """The output with the console's line wrapping undone."""
    return " ".join(said.split())


@pytest.fixture
def scenario(tmp_path: Path, state_url: str) -> Workspace:
    return Workspace(root=make_scenario(tmp_path / "ws"), state_url=state_url)


def runs(ws: Workspace) -> int:
    store = open_store(ws.state_url)
    try:
        return len(store.list_runs(limit=1000))
    finally:
        store.close()


def test_fifty_four_failures_are_three_causes_fixed_by_one_edit_and_one_replay(
    scenario: Workspace,
) -> None:
    code, _ = scenario.cli("sync")
    assert code == 1
    _, status = scenario.cli("status")
    assert status["cleanup"]["minutes"] == 32  # 10 for the tax rate, 14 + 8 for the others
    code, causes = scenario.cli("queue", "causes")
    assert code == 0
    assert [(c["cause"], c["count"]) for c in causes] == [
        (TAX_CAUSE, 50), (CURRENCY_CAUSE, 3), (TOTAL_CAUSE, 1),
    ]  # fmt: skip
    tax = causes[0]
    assert set(tax) >= {"cause", "problem", "count", "records", "amounts", "fix", "oldest"}
    assert UNMAPPED_RATE in tax["problem"]
    assert tax["fix"].endswith(f"`billbridge replay --cause {TAX_CAUSE}`")
    assert tax["amounts"] and all(v for v in tax["amounts"].values())
    assert all(r["words"].startswith("Invoice BB-") for r in tax["records"])
    assert len(tax["waiting"]) > 0  # the payments of those invoices wait on them

    code, rows = scenario.cli("queue")  # --json keeps the rows, each with its cause
    failed = [r for r in rows if r["kind"] == "failed"]
    assert len(failed) == 54
    assert sum(1 for r in failed if r["cause"] == TAX_CAUSE) == 50
    assert all(r["cause"] for r in rows)

    code, shown = text(scenario, "queue")
    assert "54" not in shown.splitlines()[0]  # the causes, not the rows
    assert "in 3 causes" in shown.splitlines()[0]
    assert shown.count("why:") == 3
    assert f"billbridge replay --cause {TAX_CAUSE}" in flat(shown)
    code, every = text(scenario, "queue", "--rows")
    assert every.count("why:") == len(rows)

    # Before the fix, the preview says why they would still fail, and takes no run number.
    before = runs(scenario)
    code, preview = scenario.cli("replay", "--cause", TAX_CAUSE, "--dry-run")
    assert code == 1
    (dry,) = preview["runs"]
    assert dry["dry_run"] is True and dry["run"] == 0
    assert len(dry["problems"]) == 50
    assert all(UNMAPPED_RATE in p["error"] for p in dry["problems"])
    code, said = text(scenario, "replay", "--cause", TAX_CAUSE, "--dry-run")
    said = flat(said)
    assert "would write 0 journal entries; nothing was written (dry run)" in said
    assert "would still be failed: Invoice BB-" in said
    assert f"tax rate '{UNMAPPED_RATE}' has no account" in said
    assert runs(scenario) == before

    fix_mapping(scenario.root)
    code, preview = scenario.cli("replay", "--cause", TAX_CAUSE, "--dry-run")
    assert code == 0
    (dry,) = preview["runs"]
    assert (dry["counts"]["synced"], dry["counts"]["failed"], dry["posted"]) == (50, 0, 50)
    assert len(dry["entries"]) == 50 and "problems" not in dry
    assert runs(scenario) == before

    code, done = scenario.cli("replay", "--cause", TAX_CAUSE)
    assert code == 0
    assert [s["state"] for s in done["records"]] == ["done"] * 50
    (real,) = done["runs"]
    assert real["run"] == before + 1 and real["posted"] > 50  # the 50, then their payments
    code, causes = scenario.cli("queue", "causes")
    assert [(c["cause"], c["count"]) for c in causes] == [(CURRENCY_CAUSE, 3), (TOTAL_CAUSE, 1)]
    _, rows = scenario.cli("queue")
    assert not [r for r in rows if r["cause"] == TAX_CAUSE]  # the waiting payments posted too
    _, status = scenario.cli("status")
    assert status["cleanup"]["minutes"] == 22  # the estimate drops by the fixed cause
    assert status["cleanup"]["trend"][-1]["minutes"] == 22
    _, daily = scenario.cli("report", "daily")
    assert daily["cleanup"]["minutes"] == 22
    assert [c["cause"] for c in daily["causes"]] == [CURRENCY_CAUSE, TOTAL_CAUSE]
    assert all(f["words"].startswith("Invoice BB-") for f in daily["failures"])
    code, said = text(scenario, "status")
    assert "about 22 min today" in flat(said)


def test_the_cleanup_alert_fires_over_30_minutes_and_resolves_after_the_fix(
    tmp_path: Path,
) -> None:
    ws = Workspace(root=make_scenario(tmp_path / "ws"), state_url=f"sqlite:///{tmp_path}/s.db")
    with AlertReceiver() as hook:
        config = ws.root / "billbridge.yaml"
        config.write_text(
            config.read_text()
            + f"alerts:\n  webhook: http://127.0.0.1:{hook.port}/hook\n"  # default rules only
        )
        ws.cli("sync")
        assert seen(hook.bodies) == [("firing", "cleanup_minutes")]
        assert hook.bodies[0]["detail"].startswith(
            "today's clean-up is estimated at 32 min (limit 30 min): 3 causes, 54 records"
        )
        fix_mapping(ws.root)
        ws.cli("replay", "--cause", TAX_CAUSE)
        code, checked = ws.cli("alerts", "check")
        assert code == 0 and checked["resolved"] == ["cleanup_minutes: queue"]
        assert seen(hook.bodies)[1:] == [("resolved", "cleanup_minutes")]


def test_a_run_that_leaves_a_conflict_or_an_old_failure_exits_one(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=30)
    code, first = ws.cli("sync")
    assert code == 1  # the workspace's deliberate faults
    # Move one posted invoice a day: its `issue` entry would differ from the one posted.
    records = ws.records()
    posted = next(r for r in records if r["object"] == "invoice" and r["status"] == "paid")
    posted["created"] -= 86400
    posted["status_transitions"]["finalized_at"] -= 86400
    ws.export.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    code, second = ws.cli("sync")
    assert second["counts"]["conflict"] == 1 and second["counts"]["failed"] == 0
    assert code == 1  # a conflict needs a person: never exit 0
    assert first["queue"]["needs_person"] > 0
    assert second["queue"]["conflict"] == 1
    assert second["queue"]["open"] == second["queue"]["failed"] + second["queue"]["held"] + 1
    code, said = text(ws, "sync")
    assert code == 1
    assert "need a person" in flat(said) and "billbridge retry --all" in flat(said)


def _with_broken_line(ws: Workspace) -> tuple[int, bytes]:
    lines = ws.export.read_bytes().splitlines(keepends=True)
    number = 5
    good = lines[number - 1]
    lines[number - 1] = b'{"object": "customer", "id": "cus_broken", oops\n'
    ws.export.write_bytes(b"".join(lines))
    return number, good


def test_an_unreadable_line_is_retried_from_the_file_or_dismissed(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=10)
    number, good = _with_broken_line(ws)
    ws.cli("sync")
    key = f"stripe:unknown:line-{number}"
    _, rows = ws.cli("queue")
    (row,) = [r for r in rows if r["record"] == key]
    assert row["words"]["text"] == f"Unreadable export line {number}"
    assert row["cause"] == "unreadable-line"

    code, refused = ws.cli("replay", key)  # nothing stored to replay: say what works
    assert code == 2
    assert f"billbridge retry {row['id']}" in refused["error"]
    assert f"billbridge queue dismiss {row['id']}" in refused["error"]

    code, again = ws.cli("retry", str(row["id"]))  # still broken: said, and exit 1
    assert code == 1
    (state,) = again["records"]
    assert (state["state"], state["id"]) == ("failed", row["id"])
    assert f"line {number}: not JSON" in state["why"]
    _, rows = ws.cli("queue")
    (still,) = [r for r in rows if r["record"] == key]
    assert still["attempts"] == 2

    lines = ws.export.read_bytes().splitlines(keepends=True)
    lines[number - 1] = good
    ws.export.write_bytes(b"".join(lines))
    code, fixed = ws.cli("retry", str(row["id"]))
    assert code == 0, fixed
    assert fixed["records"] == [
        {"record": key, "flow": "stripe-to-books", "state": "done", "why": "", "id": None,
         "words": f"Unreadable export line {number}"},
    ]  # fmt: skip
    _, rows = ws.cli("queue")
    assert key not in {r["record"] for r in rows}
    _, audit = ws.cli("audit", "--record", key)  # --json: in sequence order
    assert audit[-1]["action"] == "closed"
    assert "now stripe:" in audit[-1]["diff"]["resolution"][1]


def test_dismiss_closes_a_row_by_hand_with_its_reason_audited(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=10)
    _with_broken_line(ws)
    ws.cli("sync")
    _, rows = ws.cli("queue")
    (row,) = [r for r in rows if r["record"].startswith("stripe:unknown:")]
    code, refused = ws.cli("queue", "dismiss", str(row["id"]))
    assert code == 2 and "--reason" in refused["error"]
    code, done = ws.cli("queue", "dismiss", str(row["id"]), "--reason", "a test line, not data")
    assert code == 0
    assert done == {"dismissed": [{"id": row["id"], "record": row["record"]}]}
    _, rows = ws.cli("queue")
    assert row["id"] not in {r["id"] for r in rows}
    _, audit = ws.cli("audit", "--record", row["record"])
    assert (audit[-1]["action"], audit[-1]["actor"]) == ("dismissed", "tester")
    assert audit[-1]["diff"]["resolution"] == ["", "a test line, not data"]
    code, again = ws.cli("queue", "dismiss", str(row["id"]), "--reason", "twice")
    assert code == 2 and "dismissed, not open" in again["error"]


def test_no_json_output_or_text_holds_a_python_value(tmp_path: Path) -> None:
    ws = Workspace(root=make_scenario(tmp_path / "ws"), state_url=f"sqlite:///{tmp_path}/s.db")
    ws.cli("sync")
    commands = [
        ("queue",),
        ("queue", "causes"),
        ("replay", "--cause", TAX_CAUSE, "--dry-run"),
        ("audit",),
        ("trace", "BB-0000060"),
        ("status",),
        ("report", "daily"),
        ("numbers",),
    ]
    for command in commands:
        _, answer = ws.cli(*command)
        for value in strings(answer):
            assert not repr_marks(value), (command, value)
        _, said = text(ws, *command)
        assert not repr_marks(said), (command, repr_marks(said))
    page = tmp_path / "daily.html"
    ws.cli("report", "daily", "--html", str(page))
    shown = page_text(page.read_text())
    assert "Clean-up today: about 32 min" in shown and "Invoice BB-" in shown
    assert not repr_marks(shown), repr_marks(shown)
