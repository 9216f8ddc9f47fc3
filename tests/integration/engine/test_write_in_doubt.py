"""A write that landed while the target could not say so is never written a second time.

The Beancount file (which has no unique index of its own) takes a write, then the call
fails, and the look-up that should tell whether it landed fails too. The engine must not
write it again blindly: it retries the look-up, then queues the record as in doubt; the
next sync asks the target first, finds the entry, and records it without a second copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from billbridge.connectors.base import RetryableError
from billbridge.engine.run import sync_flow
from billbridge.store import open_store
from billbridge.testing import Fault, FaultyTarget

from ...e2e.conftest import make_workspace
from ...e2e.test_sync_flow import FAULTS, expected_facets
from .faults import build, clean_sync, ledger_now, queued


class BlindTarget(FaultyTarget):
    """Cannot answer look-ups (the connection dropped right after the write)."""

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        raise RetryableError("the target does not answer (injected)")


def test_a_write_in_doubt_is_looked_up_not_repeated(tmp_path: Path, state_url: str) -> None:
    ws = make_workspace(tmp_path / "ws", state_url, invoices=15, batch_size=20)
    flow = build(ws.root)
    blind = BlindTarget(flow.target, Fault(kind="commit-then-timeout", write=5))
    store = open_store(state_url)
    try:
        sync_flow(replace(flow, target=blind), store)
    finally:
        flow.target.close()
        store.close()
    [(_kind, keys)] = blind.injected
    record = keys[0].split("|")[1]
    assert ledger_now(ws.root).duplicated == set()  # no write was repeated blindly
    assert ledger_now(ws.root).keys[keys[0]] == 1
    assert "whether the failed write landed" in _hint(state_url, record)

    clean_sync(ws.root, state_url)
    books = ledger_now(ws.root)
    assert set(books.keys) == expected_facets(ws.records())
    assert books.duplicated == set()
    assert set(queued(ws.root, state_url)) == set(FAULTS)


def _hint(state_url: str, record: str) -> str:
    store = open_store(state_url)
    try:
        [row] = [r for r in store.open_exceptions() if r.record_key == record]
        return row.hint
    finally:
        store.close()
