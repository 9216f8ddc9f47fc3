"""Process the webhook inbox: stored events through the record path, never backwards.

Why after the answer, from the store: the receiver stores an event and answers 2xx
before any processing, so a slow ledger never makes Stripe retry and a crash after
the answer loses nothing: this pass reads whatever is still `pending`, in `created`
order. Re-processing an event whose commit was lost is harmless: the same object
content is `unchanged`, and its posting is found by its idempotency key.

Events arrive out of order (Stripe does not guarantee order). An event older than the
newest one already applied to the same object would move that record backwards (an
`invoice.updated` from before the payment undoing the payment's state), so it is
marked `stale`, not processed, and the skip is audited.

The payload is a Stripe event envelope: `{id, type, created, data: {object}}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from billbridge.connectors.base import RawRecord
from billbridge.store.base import AuditEvent, InboxRow, InboxStatus, Store

from .completion import completed
from .crashpoints import crashpoint
from .holds import has_expired_holds
from .model import FlowRuntime
from .pipeline import StopRun
from .run import _Runner

__all__ = ["InboxResult", "drain_inbox", "process_inbox"]


@dataclass(slots=True)
class InboxResult:
    processed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    run: int | None = None
    stopped: str = ""


def _record(row: InboxRow) -> RawRecord:
    event = orjson.loads(row.payload)
    obj = event["data"]["object"]
    return RawRecord(
        object=str(obj["object"]),
        id=str(obj["id"]),
        data=obj,
        raw=orjson.dumps(obj, option=orjson.OPT_SORT_KEYS),
        position="",
    )


def process_inbox(
    flow: FlowRuntime, store: Store, *, actor: str = "stripe-webhook", limit: int = 500
) -> InboxResult:
    """One pass over the pending events of the flow's source connection."""
    result = InboxResult()
    rows = store.inbox_pending(flow.source.name, flow=flow.name, limit=limit)
    if not rows and not has_expired_holds(
        store, flow=flow.name, timeout=flow.hold_timeout, now=datetime.now(UTC)
    ):
        return result
    runner = _Runner(flow, store, actor=actor, kind="webhook", dry_run=False)
    with runner:
        runner.wake_holds()  # what waits may have come, or waited too long (engine/holds.py)
        return _process_rows(flow, store, runner, rows, result, actor=actor)


def _process_rows(
    flow: FlowRuntime,
    store: Store,
    runner: _Runner,
    rows: list[InboxRow],
    result: InboxResult,
    *,
    actor: str,
) -> InboxResult:
    result.run = runner.result.run
    newest: dict[str, int] = {}
    marks: list[tuple[str, InboxStatus]] = []
    try:
        for row in rows:
            if row.object_key not in newest:
                newest[row.object_key] = (
                    store.inbox_newest_applied(row.object_key, flow=flow.name) or 0
                )
            if row.created < newest[row.object_key]:
                runner.pipeline.batch.audit.append(
                    AuditEvent(
                        actor=actor,
                        action="ignored-stale-event",
                        record_key=row.object_key,
                        run_id=runner.result.run,
                        at=datetime.now(UTC),
                        diff={
                            "event": [None, row.event_id],
                            "event_created": [newest[row.object_key], row.created],
                        },
                    )
                )
                marks.append((row.event_id, "stale"))
                continue
            newest[row.object_key] = row.created
            # the source fetches what the event's copy needs; if it cannot, the pass stops
            runner.process(completed(flow, [_record(row)], implied=True, strict=True))
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
    flow: FlowRuntime, store: Store, *, actor: str = "stripe-webhook", limit: int = 500
) -> list[InboxResult]:
    """Pass after pass until nothing is pending (or a pass stops): one transaction each."""
    passes: list[InboxResult] = []
    while True:
        result = process_inbox(flow, store, actor=actor, limit=limit)
        passes.append(result)
        if result.stopped or len(result.processed) + len(result.stale) < limit:
            return passes
