"""The foundation's CLI contract: init, demo, --version, audit --verify, exit codes, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from billbridge import __version__
from billbridge.cli import app
from billbridge.workspace_files import DEMO_BROKEN_RECORD

from .conftest import Workspace


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env or {})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_version() -> None:
    code, out = _run("--version")
    assert code == 0
    assert __version__ in out


def test_init_creates_a_workspace_and_refuses_to_overwrite(tmp_path: Path) -> None:
    code, out = _run("init", str(tmp_path / "ws"), "--json")
    assert code == 0
    created = orjson.loads(out)["created"]
    assert any(p.endswith("billbridge.yaml") for p in created)
    assert (tmp_path / "ws" / ".billbridge" / "state.db").exists()
    code, out = _run("init", str(tmp_path / "ws"), "--json")
    assert code == 2
    assert "already exists" in orjson.loads(out)["error"]


def test_demo_runs_the_flow_and_shows_one_broken_record(tmp_path: Path) -> None:
    code, out = _run("demo", str(tmp_path / "demo"), "--json")
    assert code == 0  # a demo is not a failure
    result = orjson.loads(out)
    assert result["audit_ok"] is True
    (run,) = result["runs"]
    assert run["counts"]["synced"] > 100
    assert run["counts"]["failed"] == 1
    (item,) = result["queue"]
    assert item["record"] == DEMO_BROKEN_RECORD
    assert "txr_at_vat20" in item["error"]
    assert "mapping.yaml" in item["hint"]
    # The README's first command can be run twice: the demo folder is rebuilt.
    code, _ = _run("demo", str(tmp_path / "demo"), "--json")
    assert code == 0


def test_audit_verify_names_a_row_edited_in_the_database_file(
    workspace: Workspace, tmp_path: Path
) -> None:
    if not workspace.state_url.startswith("sqlite"):
        return  # the store tests cover PostgreSQL; this one edits the file itself
    workspace.cli("sync")
    db = sqlite3.connect(workspace.state_url.removeprefix("sqlite:///"))
    with db:
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit'"
        ).fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 5")
    db.close()
    code, verdict = workspace.cli("audit", "--verify")
    assert code == 1
    assert verdict["ok"] is False
    assert verdict["first_bad"] == 5


def test_audit_table_refuses_updates(workspace: Workspace) -> None:
    if not workspace.state_url.startswith("sqlite"):
        return
    workspace.cli("sync")
    db = sqlite3.connect(workspace.state_url.removeprefix("sqlite:///"))
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit WHERE seq = 1")
    finally:
        db.close()


def test_mapping_error_names_file_line_and_field(workspace: Workspace) -> None:
    mapping = workspace.root / "mapping.yaml"
    text = mapping.read_text().replace(
        "receivable: Assets:Receivable:Stripe", "receivable: receivable-account"
    )
    mapping.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "receivable-account" in t)
    code, out = workspace.cli("sync")
    assert code == 2
    assert f"mapping.yaml:{line}: accounts.receivable:" in out["error"]
    assert "Assets, Liabilities" in out["error"]


def test_unknown_replay_key_is_a_usage_error(workspace: Workspace) -> None:
    workspace.cli("sync")
    code, out = workspace.cli("replay", "stripe:invoice:in_nope")
    assert code == 2
    assert "no record 'stripe:invoice:in_nope'" in out["error"]


def test_workspace_option_before_the_command(workspace: Workspace) -> None:
    workspace.cli("sync")
    code, out = _run("-w", str(workspace.root), "queue", "--json", env=workspace.env())
    assert code == 0
    assert len(orjson.loads(out)) == 3
