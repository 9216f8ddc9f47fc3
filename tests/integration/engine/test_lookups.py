"""A batch's look-ups are fetched in one query: a look-up the store cannot answer costs none.

Every charge of the current API names a payment intent that no export holds; before
`FlowRuntime.lookups`, each charge cost one store query to find that out. The test counts
`get_record` calls on the real SQLite store during a real sync, and checks that the
payments still post exactly as they do when every look-up queries the store.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from billbridge.config import load_workspace
from billbridge.connectors.beancount import posted_keys
from billbridge.engine.model import FlowRuntime
from billbridge.engine.run import sync_flow
from billbridge.samples import generate, write_jsonl
from billbridge.store import open_store
from billbridge.wiring import build_flow

from ...e2e.conftest import make_workspace


def _sync(root: Path, state: Path, *, lookups: bool) -> tuple[int, dict[str, int], set[str]]:
    ws = make_workspace(root, f"sqlite:///{state}", invoices=40)
    write_jsonl(ws.export, generate(invoices=40, seed=3, api="current"))
    flow: FlowRuntime = build_flow(load_workspace(ws.root), "stripe-to-books")
    if not lookups:
        flow = dataclasses.replace(flow, lookups={})
    store = open_store(ws.state_url)
    calls = 0
    real = store.get_record

    def counting(key: str) -> Any:
        nonlocal calls
        calls += 1
        return real(key)

    store.get_record = counting  # type: ignore[method-assign]
    try:
        result = sync_flow(flow, store, backfill=True)
    finally:
        flow.target.close()
        store.close()
    ledger = set(posted_keys(ws.root / "books" / "billbridge.beancount"))
    return calls, dict(result.counts), ledger


def test_missing_payment_intents_cost_no_query_per_charge(tmp_path: Path) -> None:
    calls, counts, ledger = _sync(tmp_path / "a", tmp_path / "a.db", lookups=True)
    calls_without, counts_without, ledger_without = _sync(
        tmp_path / "b", tmp_path / "b.db", lookups=False
    )
    charges = sum(1 for key in ledger if key.endswith("|payment"))
    assert charges >= 30
    assert calls_without >= charges  # the old way: one query per charge at least
    assert calls == 0
    assert counts == counts_without
    assert counts["failed"] == counts["held"] == 0
    assert ledger == ledger_without
