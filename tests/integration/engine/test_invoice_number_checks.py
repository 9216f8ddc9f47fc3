"""Invoice-number checks read the store afresh for every batch.

The sync reads who holds invoice numbers a window of numbers at a time (engine/numbers.py,
`BatchOwners`), and what it read holds for one batch only: a number another writer claims
between two batches must still fail the invoice that repeats it, in a dry run (which
takes no batch to the store) as in a real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from billbridge.config import load_workspace
from billbridge.engine.numbers import series_of
from billbridge.engine.run import sync_flow
from billbridge.store import Store, open_store
from billbridge.wiring import build_flow

from ...e2e.conftest import make_workspace

OTHER = "elsewhere:invoice:in_x"


class ClaimingStore:
    """The store, with another writer claiming `number` as the batch holding `key` starts."""

    def __init__(self, store: Store, key: str, entity: str, number: str) -> None:
        self._store = store
        self._key = key
        self._entity = entity
        self._number = number

    def flow_versions(self, flow: str, keys: Sequence[str]) -> dict[str, str]:
        if self._key in keys:
            series, seq = series_of(self._number)
            self._store.claim_invoice_number(
                entity=self._entity, series=series, number=self._number, seq=seq,
                record_key=OTHER, at=datetime.now(UTC),
            )  # fmt: skip
        return self._store.flow_versions(flow, keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _last_numbered_invoice(export: Path) -> dict[str, Any]:
    invoices = [
        obj
        for obj in map(orjson.loads, export.read_bytes().splitlines())
        if obj.get("object") == "invoice" and obj.get("number") and obj.get("status") == "paid"
    ]
    return invoices[-1]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_number_claimed_between_batches_fails_the_repeat(
    tmp_path: Path, state_url: str, dry_run: bool
) -> None:
    ws = make_workspace(tmp_path / "ws", state_url, invoices=6, batch_size=3)
    invoice = _last_numbered_invoice(ws.export)
    key = f"stripe:invoice:{invoice['id']}"
    store = open_store(ws.state_url)
    claiming = ClaimingStore(store, key, "default", invoice["number"])
    flow = build_flow(load_workspace(ws.root), "stripe-to-books")
    try:
        result = sync_flow(flow, claiming, dry_run=dry_run)  # type: ignore[arg-type]
        assert result.counts["failed"] >= 1
        if dry_run:
            (problem,) = [p for p in result.dry_run_problems if p["record"] == key]
            assert OTHER in problem["error"]
        else:
            (row,) = store.exceptions_for(key)
            assert OTHER in row.error
    finally:
        flow.target.close()
        store.close()
