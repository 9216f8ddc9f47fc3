"""`sync_flow` runs its batches with fewer collections, and restores the collector after."""

from __future__ import annotations

import gc
from pathlib import Path

from billbridge.config import load_workspace
from billbridge.engine.gc_pause import RUN_THRESHOLD
from billbridge.engine.run import sync_flow
from billbridge.store import open_store
from billbridge.wiring import build_flow

from ...e2e.conftest import make_workspace


def test_batches_run_with_raised_thresholds(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=20)
    flow = build_flow(load_workspace(ws.root), "stripe-to-books")
    store = open_store(ws.state_url)
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    try:
        result = sync_flow(
            flow, store, progress=lambda done, pos: during.append(gc.get_threshold())
        )
    finally:
        flow.target.close()
        store.close()
    assert result.counts["synced"] > 0
    assert during and set(during) == {RUN_THRESHOLD}
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
