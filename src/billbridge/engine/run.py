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
from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import Any

import orjson

from billbridge.connectors.base import (
    ConnectorError,
    MeteredSource,
    PositionMismatchError,
    RawRecord,
    RecordState,
    RecordStates,
    SettlingSource,
    SourceFigures,
)
from billbridge.connectors.source import Described
from billbridge.store.base import (
    AuditEvent,
    CursorRow,
    ExceptionRow,
    Records,
    RunFigures,
    SyncState,
)

from .completion import completed
from .crashpoints import crashpoint
from .gc_pause import fewer_collections
from .holds import expired_holds
from .liveness import RunLife
from .model import FlowRuntime, RunResult, StopRun
from .pipeline import RecordPipeline
from .recovery import recorded_batch, way_out
from .recovery import target_cursor as _target_cursor

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


def recover_target(flow: FlowRuntime, store: SyncState, *, actor: str, run_id: int) -> int:
    """Record the writes found past the committed target position; return how many.

    Each is stored with the hash of what it does to the books, read back from the target,
    so a record changed after the crash is a conflict as in a run never interrupted. A
    target that does not hold what the store committed stops the run with the way out.
    """
    cursor = store.get_cursor("*", _target_cursor(flow))
    try:
        found = flow.target.recover(cursor.position if cursor else 0)
    except PositionMismatchError as exc:
        raise way_out(flow, exc) from exc
    batch = recorded_batch(
        flow,
        found,
        known=lambda idem: store.posting_by_key(idem) is not None,
        actor=actor,
        run_id=run_id,
        summary="found in the target after an interrupted run",
        action="recovered",
    )
    batch.cursors.append(
        CursorRow(flow="*", name=_target_cursor(flow), value="", position=flow.target.flush())
    )
    store.commit(batch)
    return len(batch.postings)


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


class _Runner:
    def __init__(
        self,
        flow: FlowRuntime,
        store: SyncState,
        *,
        actor: str,
        kind: str,
        dry_run: bool,
        pipeline: type[RecordPipeline] = RecordPipeline,
    ) -> None:
        self.flow = flow
        self.store = store
        self.dry_run = dry_run
        self._figures = _figures(flow.source)
        # A dry run writes nothing, not even a run row: it takes no run number (0).
        self.life: RunLife | None = None
        run_id = 0
        if not dry_run:
            self.life = RunLife(
                store, flow=flow.name, kind=kind, actor=actor,
                mapping_version=flow.mapping.version,
            )  # fmt: skip
            run_id = self.life.run.id
        self.result = RunResult(run=run_id, flow=flow.name, dry_run=dry_run)
        if self.life is not None:
            self.life.counts = self.result.counts
        with self.life or nullcontext():
            if not dry_run:
                self.result.recovered = recover_target(flow, store, actor=actor, run_id=run_id)
            self.pipeline = pipeline(
                flow=flow,
                store=store,
                run_id=run_id,
                actor=actor,
                result=self.result,
                dry_run=dry_run,
            )
        self._wrote = False
        self.seen: set[str] = set()  # record keys read in this run (two-way flows only)

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        """A run left by an exception (not a connector's fatal error) ends as `failed`."""
        if exc is not None and self.life is not None:
            self.life.fail(exc)

    def process(self, records: Sequence[RawRecord], *, force: bool = False) -> None:
        keys = [f"{self.pipeline.connection}:{r.object}:{r.id}" for r in records]
        if self.flow.twoway is not None:
            self.seen.update(keys)
        self.pipeline.prefetch(keys, records)
        revisits = self.flow.revisits
        links: list[str] = []
        for raw in records:
            outcome = self.pipeline.process(raw, force=force)
            make = revisits.get(raw.object)
            if make is not None and outcome != "unchanged" and not raw.error:
                links.extend(make(raw.data))
        if links:
            self._revisit(links)

    def _revisit(self, links: list[str]) -> None:
        """Run again, in this batch, the records whose entries carry one of `links`.

        A payment posted before anything said which invoice it paid carries its own handle
        as its link; the record that finally says it (an invoice_payment) names the handle
        here, and the payment plans its application. In the same batch, so the new link
        and its effect commit together (a crash loses both, and the re-read brings both).
        """
        wanted = set(links)
        batch = self.pipeline.batch
        keys = set(self.store.records_linked(sorted(wanted), flow=self.flow.name))
        keys.update(row.record_key for row in batch.postings if row.link in wanted)
        if not keys:
            return
        pending = {row.key: row for row in batch.records}
        stored = self.store.get_records(sorted(k for k in keys if k not in pending))
        for key in sorted(keys):
            row = pending.get(key) or stored.get(key)
            if row is not None:
                self.pipeline.revisit(
                    RawRecord(object=row.object, id=row.source_id,
                              data=orjson.loads(row.snapshot), raw=row.snapshot, position="")
                )  # fmt: skip

    def commit(self, cursors: Sequence[CursorRow] = ()) -> None:
        """Flush the target, then commit the batch with the cursors, then release held."""
        posted = self.pipeline.posted_keys
        self.pipeline.posted_keys = []
        batch = self.pipeline.take_batch()
        if self.dry_run:
            return
        awaited = self.pipeline.awaited
        arrived = [r.key for r in batch.records if r.key in awaited] if awaited else []
        if batch.postings:
            batch.cursors.append(
                CursorRow(
                    flow="*",
                    name=_target_cursor(self.flow),
                    value="",
                    position=self.flow.target.flush(),
                )
            )
            crashpoint("after-flush")
        batch.cursors.extend(cursors)
        if not batch.is_empty():
            self.store.commit(batch)
            crashpoint("after-commit")
            if self.life is not None:
                self.life.beat()
        if posted or arrived:
            self.release([*posted, *arrived])

    def release(self, keys: list[str]) -> None:
        """Re-run the records waiting for records that just posted or arrived (and so on)."""
        waiting = self.store.held_waiting_on(keys)
        mine = [row for row in waiting if row.flow == self.flow.name]
        if mine:
            self.process(_from_store(self.store, [row.record_key for row in mine]), force=True)
            self.commit()

    def wake_holds(self) -> None:
        """Re-run the waiting records whose wait is over, whatever run ended it; and those
        held longer than the flow's hold timeout, which then fail saying what never came.

        A wait is over when the record waited for has posted, or has arrived (a version of
        it stored after the hold was last tried). `commit` releases waiters right after
        such a batch commits; a crash between that commit and the release would otherwise
        leave them held for good (the resumed run starts after the parent, and the next
        full pass finds them unchanged).
        """
        waiting = [r for r in self.store.open_exceptions(flow=self.flow.name) if r.waiting_on]
        if not waiting:
            return
        keys = sorted({row.waiting_on for row in waiting})
        posted = self.store.posted_facets(keys, flow=self.flow.name)
        stored = self.store.get_records(keys)

        def over(row: ExceptionRow) -> bool:
            if posted.get(row.waiting_on):
                return True
            found = stored.get(row.waiting_on)
            return (
                found is not None
                and row.last_tried is not None
                and (found.seen_at >= row.last_tried)
            )

        ready = {row.record_key for row in waiting if over(row)}
        expired = expired_holds(waiting, timeout=self.flow.hold_timeout, now=datetime.now(UTC))
        ready.difference_update(row.record_key for row in expired)
        records = _from_store(self.store, sorted(ready))
        # Before a hold times out, its source is asked once more for what it needs.
        expiring = _from_store(self.store, sorted(row.record_key for row in expired))
        records += completed(self.flow, expiring, implied=False, strict=False)
        if records:
            self.process(records, force=True)
            self.commit()

    def retry_due(self) -> None:
        now = datetime.now(UTC)
        due = [
            row.record_key
            for row in self.store.open_exceptions(flow=self.flow.name)
            if row.kind == "failed"
            and row.retryable
            and row.next_try_at is not None
            and row.next_try_at <= now
        ]
        if due:
            self.process(_from_store(self.store, due), force=True)
            self.commit()

    def finish(self) -> RunResult:
        status = "stopped" if self.result.stopped else "finished"
        now = _figures(self.flow.source)
        kept = None
        if now is not None and self._figures is not None:
            self.result.figures = figures = now.since(self._figures)
            kept = RunFigures(
                requests=figures.requests,
                rate_limit_waits=figures.rate_limit_waits,
                rate_limit_wait_seconds=figures.rate_limit_wait_seconds,
                throttled=figures.throttled,
            )
        if self.life is not None:
            self.life.finish(counts=self.result.counts, status=status, figures=kept)
        return self.result


def _figures(source: object) -> SourceFigures | None:
    """The source's counts so far, when it keeps any (an API does; an export file does not)."""
    return source.figures() if isinstance(source, MeteredSource) else None


def _from_store(store: Records, keys: Sequence[str]) -> list[RawRecord]:
    rows = store.get_records(list(keys))
    records = []
    for key in keys:
        row = rows.get(key)
        if row is not None:
            records.append(
                RawRecord(
                    object=row.object,
                    id=row.source_id,
                    data=orjson.loads(row.snapshot),
                    raw=row.snapshot,
                    position="",
                )
            )
    return records


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
    runner = _Runner(
        flow, store, actor=actor, kind="backfill" if backfill else "live", dry_run=dry_run
    )
    with runner:  # an exception other than StopRun ends the run as failed, then goes on
        return _sync(runner, flow, store, backfill=backfill, since=since, progress=progress)


def _sync(
    runner: _Runner,
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
    runner = _Runner(flow, store, actor=actor, kind=kind, dry_run=dry_run)
    with runner:  # an exception other than StopRun ends the run as failed, then goes on
        return _reprocess(runner, flow, store, keys, actor=actor, kind=kind)


def _reprocess(
    runner: _Runner,
    flow: FlowRuntime,
    store: SyncState,
    keys: Sequence[str],
    *,
    actor: str,
    kind: str,
) -> RunResult:
    dry_run = runner.dry_run
    records = _from_store(store, keys)
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
    runner = _Runner(flow, store, actor=actor, kind=kind, dry_run=False)
    with runner:  # an exception other than StopRun ends the run as failed, then goes on
        return _process_given(runner, flow, records, actor=actor, action=action)


def _process_given(
    runner: _Runner, flow: FlowRuntime, records: Sequence[RawRecord], *, actor: str, action: str
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
