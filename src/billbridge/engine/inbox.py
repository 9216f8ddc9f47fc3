"""Process the webhook inbox: stored events through the record path, never backwards.

Why after the answer, from the store: the receiver stores an event and answers 2xx
before any processing, so a slow ledger never makes Stripe retry and a crash after
the answer loses nothing: this pass reads whatever is still `pending`, in `created`
order. Re-processing an event whose commit was lost is harmless: the same object
content is `unchanged`, and its posting is found by its idempotency key.

Events arrive out of order (Stripe does not guarantee order). An event older than the
newest one already applied to the same object would move that record backwards (an
`invoice.updated` from before the payment undoing the payment's state), so it is
marked `stale`, not processed, and the skip is audited. Two events stamped with the
same second (Stripe's `created` has no finer grain) are told apart by the object itself:
the flow's `lifecycle` (its source's rule, e.g. an invoice's status order) marks the
one whose object is behind the one applied `stale` too, so `invoice.finalized`
arriving after `invoice.paid` cannot leave the invoice `open`.

The payload is the source's own event envelope; the source model's `parse_event` gives
the record it carries (the engine reads none of its fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from billbridge.connectors.base import RawRecord
from billbridge.store.base import AuditEvent, Inbox, InboxRow, InboxStatus, SyncState

from .completion import completed
from .crashpoints import crashpoint
from .holds import has_expired_holds
from .model import FlowRuntime, StopRun
from .runner import Runner


class InboxState(SyncState, Inbox, Protocol):
    """A drain reads the webhook inbox and runs its events down the record path."""


__all__ = ["InboxResult", "drain_inbox", "process_inbox"]


@dataclass(slots=True)
class InboxResult:
    processed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    run: int | None = None
    stopped: str = ""


def _record(flow: FlowRuntime, row: InboxRow) -> RawRecord:
    if flow.parse_event is None:
        raise StopRun(f"the source {flow.source.name!r} of flow {flow.name!r} takes no events")
    return flow.parse_event(row.payload)


def _behind(
    flow: FlowRuntime,
    store: InboxState,
    key: str,
    obj: Mapping[str, Any],
    applied: Mapping[str, Any] | None,
) -> tuple[list[int], list[int]] | None:
    """(applied, this) lifecycles when this event's object is behind the one applied.

    Asked only when two events about one object carry the same time: the source's
    `lifecycle` (e.g. an invoice's status order) decides, against the object as this
    pass applied it or else as the store holds it. None: not behind, or no order known.
    """
    if flow.lifecycle is None:
        return None
    if applied is None:
        row = store.get_record(key)
        applied = orjson.loads(row.snapshot) if row is not None else None
    if applied is None:
        return None
    then, now = flow.lifecycle(applied), flow.lifecycle(obj)
    if then is None or now is None or not now < then:
        return None
    return list(then), list(now)


def process_inbox(
    flow: FlowRuntime, store: InboxState, *, actor: str = "stripe-webhook", limit: int = 500
) -> InboxResult:
    """One pass over the pending events of the flow's source connection."""
    result = InboxResult()
    rows = store.inbox_pending(flow.source.name, flow=flow.name, limit=limit)
    if not rows and not has_expired_holds(
        store, flow=flow.name, timeout=flow.hold_timeout, now=datetime.now(UTC)
    ):
        return result
    runner = Runner(flow, store, actor=actor, kind="webhook", dry_run=False)
    with runner:
        runner.wake_holds()  # what waits may have come, or waited too long (engine/holds.py)
        return _process_rows(flow, store, runner, rows, result, actor=actor)


def _process_rows(
    flow: FlowRuntime,
    store: InboxState,
    runner: Runner,
    rows: list[InboxRow],
    result: InboxResult,
    *,
    actor: str,
) -> InboxResult:
    result.run = runner.result.run
    newest: dict[str, int] = {}
    applied: dict[str, Mapping[str, Any]] = {}  # the object as this pass last applied it
    marks: list[tuple[str, InboxStatus]] = []
    try:
        for row in rows:
            key = row.object_key
            if key not in newest:
                newest[key] = store.inbox_newest_applied(key, flow=flow.name) or 0
            record = _record(flow, row)
            behind = row.created == newest[key] and _behind(
                flow, store, key, record.data, applied.get(key)
            )
            if row.created < newest[key] or behind:
                diff: dict[str, Any] = {
                    "event": [None, row.event_id],
                    "event_created": [newest[key], row.created],
                }
                if behind:
                    diff["lifecycle"] = list(behind)
                runner.pipeline.batch.audit.append(
                    AuditEvent(
                        actor=actor,
                        action="ignored-stale-event",
                        record_key=key,
                        run_id=runner.result.run,
                        at=datetime.now(UTC),
                        diff=diff,
                    )
                )
                marks.append((row.event_id, "stale"))
                continue
            newest[key] = row.created
            applied[key] = record.data
            # the source fetches what the event's copy needs; if it cannot, the pass stops
            runner.process(completed(flow, [record], implied=True, strict=True))
            marks.append((row.event_id, "processed"))
        runner.commit()
        crashpoint("after-inbox-commit")  # committed, events not yet marked: re-run is a no-op
    except StopRun as exc:
        runner.result.stopped = str(exc)
        runner.commit()
        result.stopped = str(exc)
        marks = []  # nothing is marked: the next pass takes the events again
    for event_id, status in marks:
        store.inbox_mark(event_id, status, flow=flow.name)
        (result.processed if status == "processed" else result.stale).append(event_id)
    result.counts = dict(runner.finish().counts)
    return result


def drain_inbox(
    flow: FlowRuntime, store: InboxState, *, actor: str = "stripe-webhook", limit: int = 500
) -> list[InboxResult]:
    """Pass after pass until nothing is pending (or a pass stops): one transaction each."""
    passes: list[InboxResult] = []
    while True:
        result = process_inbox(flow, store, actor=actor, limit=limit)
        passes.append(result)
        if result.stopped or len(result.processed) + len(result.stale) < limit:
            return passes
