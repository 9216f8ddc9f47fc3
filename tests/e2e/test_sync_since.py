"""`sync --since` only with `--backfill` (issue 13, finding 5).

Why refused: an incremental sync of a live source reads from its cursor and moves it on;
with `--since` filtering out older records, the cursor would move past records that were
never read, and no later sync would read them again. A backfill reads the whole source
from its own cursor, so skipping what is older than the date there is what was asked.
"""

from __future__ import annotations

from datetime import UTC, datetime

from billbridge.store import open_store

from .conftest import Workspace


def test_since_without_backfill_is_refused_and_runs_nothing(workspace: Workspace) -> None:
    code, answer = workspace.cli("sync", "--since", "2026-01-01")
    assert code == 2
    assert "--since needs --backfill" in answer["error"]
    assert "billbridge sync --backfill --since DATE" in answer["error"]
    store = open_store(workspace.state_url)
    try:
        assert store.list_runs() == []  # refused before any run started: no cursor moved
    finally:
        store.close()
    assert not workspace.entries_file.exists()


def test_since_with_backfill_skips_only_older_records(workspace: Workspace) -> None:
    records = workspace.records()
    created = sorted(r["created"] for r in records if isinstance(r.get("created"), int))
    middle = datetime.fromtimestamp(created[len(created) // 2], UTC).date()
    floor = datetime(middle.year, middle.month, middle.day, tzinfo=UTC).timestamp()
    newer = [r for r in records if not isinstance(r.get("created"), int) or r["created"] >= floor]
    code, run = workspace.cli("sync", "--backfill", "--since", middle.isoformat())
    assert code in {0, 1}, run
    assert 0 < sum(run["counts"].values()) == len(newer) < len(records)
