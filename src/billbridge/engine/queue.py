"""The exception queue as people see it, and the ways out of it: retry, replay, by cause.

Why here and not in the CLI: the CLI and the service are thin shells over the same
calls, so a replay from the web UI and one from a terminal do exactly the same thing
and leave the same audit rows (with the acting user).

A row whose record was never stored (a line of an export that could not be parsed)
has no snapshot to run again: `retry` asks the source for it as it is now
(`RereadableSource`), so a fixed line posts and its row closes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from billbridge.connectors.base import RawRecord, RereadableSource
from billbridge.domain import RecordWords
from billbridge.store.base import AuditEvent, Batch, ExceptionRow, Queue, SyncState

from .causes import Cause, group_causes, parent_causes
from .model import FlowRuntime, RunResult
from .run import process_records, reprocess
from .words import RecordNamer
from .writeback import is_writeback_flow

__all__ = [
    "QueueItem",
    "UnknownRecordError",
    "find_cause",
    "queue_items",
    "record_states",
    "replay",
    "replay_cause",
    "retry",
]

FlowLookup = Callable[[str], FlowRuntime]


class UnknownRecordError(LookupError):
    """A key, queue id or cause names nothing billbridge holds."""


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
    cause: str = ""
    words: RecordWords | None = None

    @classmethod
    def of(
        cls, row: ExceptionRow, *, cause: str = "", words: RecordWords | None = None
    ) -> QueueItem:
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
            cause=cause,
            words=words,
        )

    @property
    def words_text(self) -> str:
        return self.words.text() if self.words is not None else ""

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
            "cause": self.cause,
            "words": self.words.as_json() if self.words is not None else None,
        }


def queue_items(
    store: Queue, *, flow: str | None = None, namer: RecordNamer | None = None
) -> list[QueueItem]:
    """The open rows, each with its cause (and, with a namer, its record's words)."""
    rows = store.open_exceptions(flow=flow)
    causes = parent_causes(rows)
    words = namer.words(r.record_key for r in rows) if namer is not None else {}
    return [
        QueueItem.of(r, cause=causes.get(r.record_key, ""), words=words.get(r.record_key))
        for r in rows
    ]


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
                    f"no open queue row with id {ident} (see `billbridge queue --rows`)"
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
    return _run_again(store, flows, rows, actor=actor, kind="retry")


def _run_again(
    store: SyncState,
    flows: FlowLookup,
    rows: Sequence[ExceptionRow],
    *,
    actor: str,
    kind: str,
    dry_run: bool = False,
) -> list[RunResult]:
    """Stored records through the current mapping; never-stored ones read again."""
    stored = store.get_records([r.record_key for r in rows])
    results = []
    again = [(r.flow, r.record_key) for r in rows if r.record_key in stored]
    for flow, keys in _by_flow(again).items():
        results.append(reprocess(flows(flow), store, keys, actor=actor, kind=kind, dry_run=dry_run))
    unread = [r for r in rows if r.record_key not in stored]
    for flow in dict.fromkeys(r.flow for r in unread):
        mine = [r for r in unread if r.flow == flow]
        results.append(_reread(store, flows(flow), mine, actor=actor, dry_run=dry_run))
    return results


def _reread(
    store: SyncState, flow: FlowRuntime, rows: Sequence[ExceptionRow], *, actor: str, dry_run: bool
) -> RunResult:
    """Read never-stored records from the source again and run them down the path.

    A line that now reads as a record closes its row (the record carries on under its
    own key); a line the source no longer has closes it too; one still unreadable stays
    open with one more try.
    """
    source = flow.source
    if not isinstance(source, RereadableSource):
        ids = ", ".join(str(r.id) for r in rows)
        raise UnknownRecordError(
            f"{source.name} cannot read {rows[0].record_key} again (it was never stored): "
            f"fix it in the source and sync, or `billbridge queue dismiss {ids} --reason …`"
        )
    found: list[tuple[ExceptionRow, RawRecord | None]] = []
    for row in rows:
        _, obj, ident = [*row.record_key.split(":", 2), "", ""][:3]
        found.append((row, source.read_again(obj, ident)))
    records = [raw for _, raw in found if raw is not None]
    if dry_run:
        result = RunResult(run=0, flow=flow.name)
        for row, raw in found:
            if raw is None or not raw.error:
                result.counts["synced"] += 1
            else:
                result.counts["failed"] += 1
                result.dry_run_problems.append(
                    {"record": row.record_key, "outcome": "failed", "error": raw.error,
                     "field": "line", "hint": row.hint}
                )  # fmt: skip
        return result
    result = process_records(flow, store, records, actor=actor, kind="retry", action="retried")
    now = datetime.now(UTC)
    batch = Batch()
    for row, raw in found:
        if raw is not None and raw.error:
            continue  # still unreadable: its row has one more try and the new reason
        key = f"{source.name}:{raw.object}:{raw.id}" if raw is not None else ""
        why = (
            f"read again in run {result.run}: now {key}"
            if raw is not None
            else f"read again in run {result.run}: the source no longer has it"
        )
        batch.closed_exceptions.append((row.flow, row.record_key, why))
        batch.audit.append(
            AuditEvent(
                actor=actor, action="closed", record_key=row.record_key, run_id=result.run,
                at=now, diff={"status": ["open", "closed"], "resolution": ["", why]},
            )
        )  # fmt: skip
    store.commit(batch)
    return result


def _not_stored(store: SyncState, key: str) -> UnknownRecordError:
    rows = [r for r in store.exceptions_for(key) if r.status == "open"]
    if rows:
        ids = ", ".join(str(r.id) for r in rows)
        return UnknownRecordError(
            f"{key} could not be read from the source, so there is nothing stored to replay: "
            f"fix it there, then `billbridge retry {ids}` reads it again (or "
            f"`billbridge queue dismiss {ids} --reason …`)"
        )
    return UnknownRecordError(
        f"no record {key!r}; keys look like stripe:invoice:in_123 (see `billbridge queue --rows`)"
    )


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
            raise _not_stored(store, key)
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


def find_cause(
    store: SyncState, cause: str, *, flow: str | None = None, namer: RecordNamer | None = None
) -> Cause:
    """The open cause named `cause` (as `billbridge queue causes` lists it)."""
    rows = store.open_exceptions(flow=flow)
    words = namer.words(r.record_key for r in rows) if namer is not None else None
    causes = group_causes(rows, words)
    for found in causes:
        if found.cause == cause:
            return found
    known = ", ".join(c.cause for c in causes[:8]) or "none: the queue is empty"
    raise UnknownRecordError(
        f"no open cause {cause!r} (open causes: {known}; see `billbridge queue causes`)"
    )


def replay_cause(
    store: SyncState,
    flows: FlowLookup,
    cause: Cause,
    *,
    actor: str,
    dry_run: bool = False,
) -> list[RunResult]:
    """Replay exactly the records of one cause (the held records waiting on them follow
    by themselves once they post); `dry_run` previews what would post and what not."""
    if cause.code == "writeback":
        raise UnknownRecordError(
            f"cause {cause.cause} holds write-backs to Stripe, not a flow's records: {cause.fix}"
        )
    return _run_again(store, flows, cause.rows, actor=actor, kind="replay", dry_run=dry_run)


def record_states(store: SyncState, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Where each (flow, record) stands now: done, or still in the queue and why.

    A flow of "" means any flow's row for the record (write-backs aside).
    """
    states: list[dict[str, Any]] = []
    for flow, key in pairs:
        row = next(
            (
                r
                for r in store.exceptions_for(key)
                if r.status == "open"
                and (r.flow == flow or (not flow and not is_writeback_flow(r.flow)))
            ),
            None,
        )
        if row is None:
            states.append({"record": key, "flow": flow, "state": "done", "why": "", "id": None})
        else:
            states.append(
                {"record": key, "flow": row.flow, "state": row.kind, "why": row.error, "id": row.id}
            )
    return states
