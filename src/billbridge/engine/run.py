"""A run: read a flow's source in batches, send each record down the path, commit each batch.

The order inside one batch commit is what makes a crash harmless:
1. every record of the batch is written to the target (appended, not yet durable);
2. the target is flushed (fsync) and reports its position;
3. one store transaction commits outcomes, xrefs, audit rows, queue changes, the
   source cursor and the target position.
A crash before 3 leaves writes past the committed target position; the next run's
`recover` finds their idempotency keys and records them (in one transaction, before
anything else), so the re-read records find their facets posted and write nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from billbridge.connectors.base import (
    ConnectorError,
    RawRecord,
    RecordState,
    RecordStates,
    SettlingSource,
)
from billbridge.connectors.source import Described
from billbridge.store.base import AuditEvent, CursorRow, SyncState

from .completion import completed
from .crashpoints import crashpoint
from .gc_pause import fewer_collections
from .model import FlowRuntime, RunResult, StopRun
from .runner import Runner, from_store, recover_target

__all__ = [
    "Progress",
    "process_records",
    "record_states",
    "recover_target",
    "reprocess",
    "sync_flow",
]

Progress = Callable[[int, str], None]  # (records done in this run, last position)

_SOURCE = "source"
_ACTIONS = {"replay": "replayed", "retry": "retried"}
_BACKFILL = "backfill"


def _chunks(records: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _since_filter(
    records: Iterable[RawRecord],
    since: date | None,
    describe: Callable[[Mapping[str, Any]], Described],
) -> Iterator[RawRecord]:
    """Records created on or after `since` (as the source describes them); undated ones too."""
    if since is None:
        yield from records
        return
    floor = datetime(since.year, since.month, since.day, tzinfo=UTC)
    for raw in records:
        created = None if raw.error else describe(raw.data).created
        if created is None or created >= floor:
            yield raw


def _finished_cursors(flow: FlowRuntime, *, backfill: bool, position: str) -> list[CursorRow]:
    """Where the next run starts once this one has read everything.

    A finished backfill starts over next time. A snapshot source (an export file) is
    read whole by every run, so its cursor only ever resumes an interrupted run; a
    stream source (an events API) continues from where this run ended.
    """
    live = "" if flow.source.snapshot else position
    cursors = [CursorRow(flow=flow.name, name=_SOURCE, value=live)]
    if backfill:
        cursors.append(CursorRow(flow=flow.name, name=_BACKFILL, value=""))
    return cursors


def sync_flow(
    flow: FlowRuntime,
    store: SyncState,
    *,
    actor: str = "system",
    backfill: bool = False,
    since: date | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """One pass of a flow over its source; each record gets its own outcome."""
    if since is not None and not backfill:
        raise ValueError("`since` needs `backfill`: a live cursor would move past skipped records")
    runner = Runner(
        flow, store, actor=actor, kind="backfill" if backfill else "live", dry_run=dry_run
    )
    with runner:  # an exception other than StopRun ends the run as failed, then goes on
        return _sync(runner, flow, store, backfill=backfill, since=since, progress=progress)


def _sync(
    runner: Runner,
    flow: FlowRuntime,
    store: SyncState,
    *,
    backfill: bool,
    since: date | None,
    progress: Progress | None,
) -> RunResult:
    dry_run = runner.dry_run
    name = _BACKFILL if backfill else _SOURCE
    cursor = store.get_cursor(flow.name, name)
    start = cursor.value if cursor and cursor.value else None
    done = 0
    position = start or ""
    with fewer_collections():
        try:
            if not dry_run:
                runner.wake_holds()
                runner.retry_due()
            records = _since_filter(flow.source.read(start), since, flow.described)
            for chunk in _chunks(records, flow.batch_size):
                runner.process(chunk)
                position = chunk[-1].position
                runner.commit([CursorRow(flow=flow.name, name=name, value=position)])
                done += len(chunk)
                if progress is not None:
                    progress(done, position)
        except StopRun as exc:
            runner.result.stopped = str(exc)
            runner.commit()
        else:
            if not dry_run:
                if flow.twoway is not None and flow.source.snapshot and start is None:
                    flow.twoway.sweep(runner.pipeline, runner.seen)  # deleted at the source
                runner.commit(_finished_cursors(flow, backfill=backfill, position=position))
                if since is None and isinstance(flow.source, SettlingSource):
                    crashpoint("before-settle")
                    try:
                        flow.source.settle(record_states(store, flow.name))
                    except ConnectorError as exc:
                        runner.result.stopped = str(exc)
    return runner.finish()


def record_states(store: SyncState, flow: str) -> RecordStates:
    """`keys -> RecordState` from the store: open queue rows, postings, versions seen."""

    def states(keys: Sequence[str]) -> Mapping[str, RecordState]:
        wanted = list(dict.fromkeys(keys))
        asked = set(wanted)
        queued = {
            row.record_key: row
            for row in store.open_exceptions(flow=flow)
            if row.record_key in asked
        }
        seen = store.flow_versions(flow, wanted)
        found: dict[str, RecordState] = {}
        for key in wanted:
            posted = tuple((p.facet, p.target_ref) for p in store.postings_for(key, flow=flow))
            row = queued.get(key)
            if row is not None:
                found[key] = RecordState(
                    outcome=row.kind, postings=posted, error=row.error, field=row.field,
                    hint=row.hint, waiting_on=row.waiting_on,
                )  # fmt: skip
            else:
                outcome = "posted" if posted else "nothing" if key in seen else "unread"
                found[key] = RecordState(outcome=outcome, postings=posted)
        return found

    return states


def reprocess(
    flow: FlowRuntime,
    store: SyncState,
    keys: Sequence[str],
    *,
    actor: str,
    kind: str,
    dry_run: bool = False,
) -> RunResult:
    """Run stored records again through the current mapping (replay and retry)."""
    runner = Runner(flow, store, actor=actor, kind=kind, dry_run=dry_run)
    with runner:  # an exception other than StopRun ends the run as failed, then goes on
        return _reprocess(runner, flow, store, keys, actor=actor, kind=kind)


def _reprocess(
    runner: Runner,
    flow: FlowRuntime,
    store: SyncState,
    keys: Sequence[str],
    *,
    actor: str,
    kind: str,
) -> RunResult:
    dry_run = runner.dry_run
    records = from_store(store, keys)
    if kind == "retry":  # what a record waits for may be fetched now (a live source)
        records = completed(flow, records, implied=False, strict=False)
    try:
        for raw in records:
            if not dry_run:
                key = f"{runner.pipeline.connection}:{raw.object}:{raw.id}"
                runner.pipeline.batch.audit.append(
                    AuditEvent(
                        actor=actor,
                        action=_ACTIONS.get(kind, kind),
                        record_key=key,
                        run_id=runner.result.run,
                        mapping_version=flow.mapping.version,
                        at=datetime.now(UTC),
                    )
                )
            runner.process([raw], force=True)
        runner.commit()
    except StopRun as exc:
        runner.result.stopped = str(exc)
        runner.commit()
    return runner.finish()


def process_records(
    flow: FlowRuntime,
    store: SyncState,
    records: Sequence[RawRecord],
    *,
    actor: str,
    kind: str,
    action: str,
) -> RunResult:
    """Run records as the source gives them now through the path (reconcile's `--fix`).

    Unlike `reprocess`, the records come from the caller (a fresh read of the source),
    not from the store's snapshots, so a record that changed since its sync posts its
    new facets (a void) through the same pipeline, batch commit and audit as a sync.
    """
    runner = Runner(flow, store, actor=actor, kind=kind, dry_run=False)
    with runner:  # an exception other than StopRun ends the run as failed, then goes on
        return _process_given(runner, flow, records, actor=actor, action=action)


def _process_given(
    runner: Runner, flow: FlowRuntime, records: Sequence[RawRecord], *, actor: str, action: str
) -> RunResult:
    try:
        for raw in records:
            runner.pipeline.batch.audit.append(
                AuditEvent(
                    actor=actor,
                    action=action,
                    record_key=f"{runner.pipeline.connection}:{raw.object}:{raw.id}",
                    run_id=runner.result.run,
                    mapping_version=flow.mapping.version,
                    at=datetime.now(UTC),
                )
            )
        runner.process(list(records), force=True)
        runner.commit()
    except StopRun as exc:
        runner.result.stopped = str(exc)
        runner.commit()
    return runner.finish()
