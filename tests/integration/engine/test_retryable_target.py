"""A target that fails with passing I/O errors: retried with backoff, then queued, then retried.

`FlakyTarget` wraps the real Beancount target and injects `RetryableError` for its first
N writes (the failure a locked or full disk gives); everything that succeeds goes to the
real ledger file, which bean-check then reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from billbridge.connectors.base import RetryableError, Written
from billbridge.connectors.beancount import BeancountTarget, posted_keys
from billbridge.domain import JournalEntry
from billbridge.engine.model import FlowRuntime
from billbridge.engine.queue import queue_items, retry
from billbridge.engine.retry import RetryPolicy
from billbridge.engine.run import sync_flow
from billbridge.samples import generate, write_jsonl
from billbridge.store import open_store
from billbridge.wiring import build_flow

from ...e2e.conftest import make_workspace


class FlakyTarget:
    def __init__(self, real: BeancountTarget, failures: int) -> None:
        self.real = real
        self.name = real.name
        self.failures = failures
        self.calls = 0

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise RetryableError(f"{self.real.entries_path}: disk full (injected)")
        return self.real.write(entries)

    def recover(self, committed_position: int) -> Mapping[str, str]:
        return self.real.recover(committed_position)

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        return self.real.find(idempotency_keys)

    def flush(self) -> int:
        return self.real.flush()

    def render(self, entries: Sequence[JournalEntry]) -> str:
        return self.real.render(entries)

    def close(self) -> None:
        self.real.close()


def _flow(root: Path, failures: int, attempts: int) -> tuple[FlowRuntime, FlakyTarget]:
    from billbridge.config import load_workspace

    base = build_flow(load_workspace(root), "stripe-to-books")
    flaky = FlakyTarget(base.target, failures)  # type: ignore[arg-type]
    policy = RetryPolicy(attempts=attempts, base_seconds=0.001, max_seconds=0.002)
    flow = replace(base, target=flaky, retry=policy)
    return flow, flaky


def test_passing_failures_are_retried_in_the_run(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=5)
    write_jsonl(ws.export, generate(invoices=5, seed=1))
    flow, flaky = _flow(ws.root, failures=2, attempts=3)
    store = open_store(ws.state_url)
    result = sync_flow(flow, store)
    assert result.counts["failed"] == 0
    assert flaky.calls == result.posted - 0 + 2  # two injected failures, then every write
    assert set(posted_keys(ws.ledger).values()) == {1}
    flow.target.close()
    store.close()


def test_exhausted_retries_queue_the_record_and_retry_posts_it(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=5)
    write_jsonl(ws.export, generate(invoices=5, seed=1))
    flow, _ = _flow(ws.root, failures=3, attempts=2)
    store = open_store(ws.state_url)
    result = sync_flow(flow, store)
    assert result.counts["failed"] == 1
    queue = queue_items(store)
    (item,) = [i for i in queue if i.kind == "failed"]
    # Whatever depends on the failed record waits for it instead of failing too.
    assert all(i.waiting_on == item.record for i in queue if i.kind == "held")
    assert item.retryable
    assert "disk full" in item.error
    assert item.field == "target"
    row = store.get_exception(item.id)
    assert row is not None
    assert row.next_try_at is not None

    # The disk has space again: `billbridge retry` posts it once and closes the row.
    results = retry(store, lambda _name: flow, [item.id], actor="ops")
    assert results[0].counts["synced"] >= 1
    assert queue_items(store) == []  # the retried record posted; what waited on it followed
    counts = posted_keys(ws.ledger)
    assert set(counts.values()) == {1}
    assert any(k.startswith(f"stripe-to-books|{item.record}|") for k in counts)
    flow.target.close()
    store.close()
