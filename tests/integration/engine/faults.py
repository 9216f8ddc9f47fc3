"""Helpers for running the engine over a real target wrapped in `FaultyTarget`.

A faulted run and the clean run after it use the real workspace (export, mapping, store,
ledger); only the target is wrapped. `LedgerView` reads back what a target holds, the
same way for every built-in target, so a test compares keys and amounts, not counts.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from billbridge.config import load_workspace
from billbridge.connectors.base import LedgerReader, TargetConnector
from billbridge.engine.model import FlowRuntime, RunResult
from billbridge.engine.queue import queue_items, retry
from billbridge.engine.retry import RetryPolicy
from billbridge.engine.run import sync_flow
from billbridge.store import Store, open_store
from billbridge.testing import Fault, FaultyTarget, SimulatedCrash
from billbridge.wiring import build_flow

FLOW = "stripe-to-books"
# Retries in the run take no time, and a queued retryable row is due at the next sync.
FAST = RetryPolicy(attempts=3, base_seconds=0.001, max_seconds=0.002, queue_delay_seconds=0)


@dataclass(frozen=True)
class LedgerView:
    """What a target holds: each idempotency key's count, and the amount per account."""

    keys: Counter[str]
    amounts: dict[tuple[str, str], Decimal]

    @property
    def duplicated(self) -> set[str]:
        return {key for key, n in self.keys.items() if n > 1}


def read_ledger(target: TargetConnector) -> LedgerView:
    """Keys and (account, currency) totals, read back from the target itself."""
    keys: Counter[str] = Counter()
    amounts: dict[tuple[str, str], Decimal] = {}
    if isinstance(target, LedgerReader):
        for posting in target.ledger_postings():
            keys[posting.idempotency_key] += 1
            for leg in posting.legs:
                where = (leg.account, leg.currency)
                amounts[where] = amounts.get(where, Decimal(0)) + leg.amount
    else:  # a CSV export folder (quickbooks-journal): the manifest and the rows
        from billbridge.connectors.csv_export import exported_keys

        folder = Path(target.folder)  # type: ignore[attr-defined]
        keys.update(exported_keys(folder))
        for path in sorted(folder.glob("*.csv")):
            with path.open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    amount = Decimal(row["Debits"] or 0) - Decimal(row["Credits"] or 0)
                    where = (row["Account Name"], row["Currency"])
                    amounts[where] = amounts.get(where, Decimal(0)) + amount
    return LedgerView(keys=keys, amounts={k: v for k, v in amounts.items() if v})


def build(root: Path) -> FlowRuntime:
    return replace(build_flow(load_workspace(root), FLOW), retry=FAST)


@dataclass
class Outcome:
    result: RunResult | None  # None when the run died (a simulated crash)
    injected: list[tuple[str, tuple[str, ...]]]


def faulted_sync(
    root: Path,
    state_url: str,
    *faults: Fault,
    torn_file: Callable[[TargetConnector], Path | None] | None = None,
) -> Outcome:
    """One sync through a `FaultyTarget`; a simulated crash drops everything unflushed."""
    flow = build(root)
    real = flow.target
    faulty = FaultyTarget(
        real, *faults, torn_file=(lambda: torn_file(real)) if torn_file is not None else None
    )
    store = open_store(state_url)
    try:
        result: RunResult | None = sync_flow(replace(flow, target=faulty), store)
    except SimulatedCrash:
        result = None
    finally:
        real.close()
        store.close()
    return Outcome(result=result, injected=[(k, keys) for k, keys in faulty.injected])


@contextmanager
def opened(root: Path, state_url: str) -> Iterator[tuple[FlowRuntime, Store]]:
    flow = build(root)
    store = open_store(state_url)
    try:
        yield flow, store
    finally:
        flow.target.close()
        store.close()


def clean_sync(root: Path, state_url: str, *, retry_queue: bool = False) -> RunResult:
    """A sync with the real target; with `retry_queue`, then `retry --all` as well."""
    with opened(root, state_url) as (flow, store):
        result = sync_flow(flow, store)
        if retry_queue:
            retry(store, lambda _name: flow, None, actor="ops")
        return result


def ledger_now(root: Path) -> LedgerView:
    flow = build(root)
    try:
        return read_ledger(flow.target)
    finally:
        flow.target.close()


def queued(root: Path, state_url: str) -> dict[str, str]:
    """Open queue rows: record → error."""
    store = open_store(state_url)
    try:
        return {item.record: item.error for item in queue_items(store)}
    finally:
        store.close()


def lost(root: Path, state_url: str, expected: set[str]) -> set[str]:
    """Records the store calls processed (their version committed for the flow) that are
    neither fully posted in the target nor in the queue: what no later sync would post."""
    ledger = set(ledger_now(root).keys)
    store = open_store(state_url)
    try:
        records = sorted({key.split("|")[1] for key in expected})
        seen = store.flow_versions(FLOW, records)
        open_rows = {item.record for item in queue_items(store)}
    finally:
        store.close()
    unposted = {key.split("|")[1] for key in expected - ledger}
    return {record for record in unposted if record in seen and record not in open_rows}
