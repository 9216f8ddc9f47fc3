"""The exception queue as people see it, and the two ways out of it: retry and replay.

Why here and not in the CLI: the CLI and the service are thin shells over the same
calls, so a replay from the web UI and one from a terminal do exactly the same thing
and leave the same audit rows (with the acting user).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billbridge.store.base import ExceptionRow, Queue, SyncState

from .model import FlowRuntime, RunResult
from .run import reprocess
from .writeback import is_writeback_flow

__all__ = ["QueueItem", "UnknownRecordError", "queue_items", "replay", "retry"]

FlowLookup = Callable[[str], FlowRuntime]


class UnknownRecordError(LookupError):
    """A key or queue id names nothing billbridge holds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueItem:
    id: int
    record: str
    flow: str
    kind: str
    error: str
    hint: str
    field: str
    attempts: int
    first_seen: datetime | None
    last_tried: datetime | None
    retryable: bool
    waiting_on: str

    @classmethod
    def of(cls, row: ExceptionRow) -> QueueItem:
        return cls(
            id=row.id,
            record=row.record_key,
            flow=row.flow,
            kind=row.kind,
            error=row.error,
            hint=row.hint,
            field=row.field,
            attempts=row.attempts,
            first_seen=row.first_seen,
            last_tried=row.last_tried,
            retryable=row.retryable,
            waiting_on=row.waiting_on,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "record": self.record,
            "flow": self.flow,
            "kind": self.kind,
            "error": self.error,
            "hint": self.hint,
            "field": self.field,
            "attempts": self.attempts,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_tried": self.last_tried.isoformat() if self.last_tried else None,
            "retryable": self.retryable,
            "waiting_on": self.waiting_on or None,
        }


def queue_items(store: Queue, *, flow: str | None = None) -> list[QueueItem]:
    return [QueueItem.of(row) for row in store.open_exceptions(flow=flow)]


_RECOGNITION = (
    "recognize it again: `billbridge recognize --through DATE` (or the worker's monthly run)"
)


def _is_recognition(record_key: str) -> bool:
    """A deferred-revenue recognition record (engine/deferred.py): it has no source record
    to run again; the next `recognize` plans it afresh."""
    return record_key.split(":")[1:2] == ["recognition"]


def _by_flow(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for flow, key in pairs:
        grouped.setdefault(flow, []).append(key)
    return grouped


def retry(
    store: SyncState,
    flows: FlowLookup,
    ids: Sequence[int] | None,
    *,
    actor: str,
) -> list[RunResult]:
    """Retry queued failures by id (None: every open `failed` row of a flow).

    A failed write-back to Stripe is not a flow's record: its row's hint names the command
    that sends it again (which looks in Stripe first), so `--all` leaves it and an id of
    one is refused with that hint.
    """
    if ids is None:
        rows = [
            row
            for row in store.open_exceptions()
            if row.kind == "failed"
            and not is_writeback_flow(row.flow)
            and not _is_recognition(row.record_key)
        ]
    else:
        rows = []
        for ident in ids:
            row = store.get_exception(ident)
            if row is None or row.status != "open":
                raise UnknownRecordError(
                    f"no open queue row with id {ident} (see `billbridge queue`)"
                )
            if is_writeback_flow(row.flow):
                raise UnknownRecordError(
                    f"queue row {ident} is a write-back to Stripe, not a flow's record: {row.hint}"
                )
            if _is_recognition(row.record_key):
                raise UnknownRecordError(
                    f"queue row {ident} is the revenue recognition of an invoice: {_RECOGNITION}"
                )
            rows.append(row)
    grouped = _by_flow([(r.flow, r.record_key) for r in rows])
    return [
        reprocess(flows(flow), store, keys, actor=actor, kind="retry")
        for flow, keys in grouped.items()
    ]


def replay(
    store: SyncState,
    flows: FlowLookup,
    keys: Sequence[str],
    *,
    actor: str,
    dry_run: bool = False,
    default_flow: str | None = None,
) -> list[RunResult]:
    """Run records again through the current mapping of the flow that last handled them."""
    pairs: list[tuple[str, str]] = []
    for key in keys:
        if _is_recognition(key):
            raise UnknownRecordError(
                f"{key} is the revenue recognition of an invoice: {_RECOGNITION}"
            )
        if store.get_record(key) is None:
            raise UnknownRecordError(
                f"no record {key!r}; keys look like stripe:invoice:in_123 (see `billbridge queue`)"
            )
        flow = next(
            (row.flow for row in store.exceptions_for(key) if not is_writeback_flow(row.flow)),
            None,
        )
        flow = flow or next((p.flow for p in store.postings_for(key)), None) or default_flow
        if flow is None:
            raise UnknownRecordError(f"record {key!r} has not been through any flow yet")
        pairs.append((flow, key))
    return [
        reprocess(flows(flow), store, grouped, actor=actor, kind="replay", dry_run=dry_run)
        for flow, grouped in _by_flow(pairs).items()
    ]
