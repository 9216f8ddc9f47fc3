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
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime

import orjson

from billbridge.connectors.base import MeteredSource, RawRecord, SourceFigures
from billbridge.store.base import AuditEvent, Batch, CursorRow, PostingRow, RunFigures, Store

from .crashpoints import crashpoint
from .gc_pause import fewer_collections
from .model import FlowRuntime, RunResult
from .pipeline import RecordPipeline, StopRun

__all__ = ["Progress", "process_records", "recover_target", "reprocess", "sync_flow"]

Progress = Callable[[int, str], None]  # (records done in this run, last position)

_SOURCE = "source"
_ACTIONS = {"replay": "replayed", "retry": "retried"}
_BACKFILL = "backfill"


def _target_cursor(flow: FlowRuntime) -> str:
    return f"target:{flow.target.name}"


def recover_target(flow: FlowRuntime, store: Store, *, actor: str, run_id: int) -> int:
    """Record the writes found past the committed target position; return how many."""
    cursor = store.get_cursor("*", _target_cursor(flow))
    found = flow.target.recover(cursor.position if cursor else 0)
    now = datetime.now(UTC)
    batch = Batch()
    for idem, ref in found.items():
        if store.posting_by_key(idem) is not None:
            continue
        flow_name, record, facet = [*idem.split("|"), "", ""][:3]
        batch.postings.append(
            PostingRow(
                flow=flow_name,
                record_key=record,
                facet=facet,
                idempotency_key=idem,
                version="",
                entry_hash="",
                target=flow.target.name,
                target_ref=ref,
                run_id=run_id,
                posted_at=now,
                summary="found in the target after an interrupted run",
            )
        )
        batch.audit.append(
            AuditEvent(
                actor=actor,
                action="recovered",
                record_key=record,
                run_id=run_id,
                at=now,
                diff={"posting": [None, idem], "target_ref": [None, ref]},
            )
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


def _since_filter(records: Iterable[RawRecord], since: date | None) -> Iterator[RawRecord]:
    if since is None:
        yield from records
        return
    floor = datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp()
    for raw in records:
        created = raw.data.get("created")
        if raw.error or not isinstance(created, int) or created >= floor:
            yield raw


class _Runner:
    def __init__(
        self, flow: FlowRuntime, store: Store, *, actor: str, kind: str, dry_run: bool
    ) -> None:
        self.flow = flow
        self.store = store
        self.dry_run = dry_run
        self._figures = _figures(flow.source)
        run_id = 0  # a dry run writes nothing, not even a run row: it takes no run number
        if not dry_run:
            run_id = store.start_run(
                flow=flow.name, kind=kind, actor=actor, mapping_version=flow.mapping.version
            ).id
        self.result = RunResult(run=run_id, flow=flow.name, dry_run=dry_run)
        if not dry_run:
            self.result.recovered = recover_target(flow, store, actor=actor, run_id=run_id)
        self.pipeline = RecordPipeline(
            flow=flow,
            store=store,
            run_id=run_id,
            actor=actor,
            result=self.result,
            dry_run=dry_run,
        )
        self._wrote = False

    def process(self, records: Sequence[RawRecord], *, force: bool = False) -> None:
        keys = [f"{self.pipeline.connection}:{r.object}:{r.id}" for r in records]
        self.pipeline.prefetch(keys, records)
        for raw in records:
            self.pipeline.process(raw, force=force)

    def commit(self, cursors: Sequence[CursorRow] = ()) -> None:
        """Flush the target, then commit the batch with the cursors, then release held."""
        posted = self.pipeline.posted_keys
        self.pipeline.posted_keys = []
        batch = self.pipeline.take_batch()
        if self.dry_run:
            return
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
        if posted:
            self.release(posted)

    def release(self, posted: list[str]) -> None:
        """Re-run the records held for records that just posted (and so on, transitively)."""
        waiting = self.store.held_waiting_on(posted)
        mine = [row for row in waiting if row.flow == self.flow.name]
        if mine:
            self.process(_from_store(self.store, [row.record_key for row in mine]), force=True)
            self.commit()

    def release_ready(self) -> None:
        """Release held records whose parent has posted, whatever run posted it.

        `commit` releases held records right after their parent's batch commits; a crash
        between that commit and the release would otherwise leave them held for good (the
        resumed run starts after the parent, and the next full pass finds them unchanged).
        """
        held = [
            row
            for row in self.store.open_exceptions(flow=self.flow.name)
            if row.kind == "held" and row.waiting_on
        ]
        if not held:
            return
        posted = self.store.posted_facets(
            sorted({row.waiting_on for row in held}), flow=self.flow.name
        )
        ready = [row.record_key for row in held if posted.get(row.waiting_on)]
        if ready:
            self.process(_from_store(self.store, ready), force=True)
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
        if not self.dry_run:
            self.store.finish_run(self.result.run, counts=self.result.counts, status=status,
                                  figures=kept)  # fmt: skip
        return self.result


def _figures(source: object) -> SourceFigures | None:
    """The source's counts so far, when it keeps any (an API does; an export file does not)."""
    return source.figures() if isinstance(source, MeteredSource) else None


def _from_store(store: Store, keys: Sequence[str]) -> list[RawRecord]:
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
    store: Store,
    *,
    actor: str = "system",
    backfill: bool = False,
    since: date | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """One pass of a flow over its source; each record gets its own outcome."""
    runner = _Runner(
        flow, store, actor=actor, kind="backfill" if backfill else "live", dry_run=dry_run
    )
    name = _BACKFILL if backfill else _SOURCE
    cursor = store.get_cursor(flow.name, name)
    start = cursor.value if cursor and cursor.value else None
    done = 0
    position = start or ""
    with fewer_collections():
        try:
            if not dry_run:
                runner.release_ready()
                runner.retry_due()
            records = _since_filter(flow.source.read(start), since)
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
                runner.commit(_finished_cursors(flow, backfill=backfill, position=position))
    return runner.finish()


def reprocess(
    flow: FlowRuntime,
    store: Store,
    keys: Sequence[str],
    *,
    actor: str,
    kind: str,
    dry_run: bool = False,
) -> RunResult:
    """Run stored records again through the current mapping (replay and retry)."""
    runner = _Runner(flow, store, actor=actor, kind=kind, dry_run=dry_run)
    records = _from_store(store, keys)
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
    store: Store,
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
