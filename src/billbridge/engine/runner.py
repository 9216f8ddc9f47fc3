"""The run loop's engine room: a run row, the record pipeline, and the batch commit.

Why apart from `run.py`: every way of running records — a sync, a replay or retry, a
reconcile fix, a webhook drain, revenue recognition — shares one `Runner`: it opens the
run (and recovers the target's uncommitted tail first), sends records down the pipeline,
commits each batch in the order that makes a crash harmless (see `run.py`), and releases
the records that waited for what just posted. `run.py` holds the entry points.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime

import orjson

from billbridge.connectors.base import (
    MeteredSource,
    PositionMismatchError,
    RawRecord,
    SourceFigures,
)
from billbridge.store.base import (
    CursorRow,
    ExceptionRow,
    Records,
    RunFigures,
    SyncState,
)

from .completion import completed
from .crashpoints import crashpoint
from .holds import expired_holds
from .liveness import RunLife
from .model import FlowRuntime, RunResult
from .pipeline import RecordPipeline
from .recovery import recorded_batch, way_out
from .recovery import target_cursor as _target_cursor

__all__ = ["Runner", "from_store", "recover_target"]


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


class Runner:
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

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        """A run left by an exception (not a connector's fatal error) ends as `failed`."""
        if exc is not None and self.life is not None:
            self.life.fail(exc)

    def process(self, records: Sequence[RawRecord], *, force: bool = False) -> None:
        keys = [f"{self.pipeline.connection}:{r.object}:{r.id}" for r in records]
        if self.flow.twoway is not None:
            self.seen.update(keys)
        unchanged = self.pipeline.prefetch(keys, records, force=force)
        revisits = self.flow.revisits
        links: list[str] = []
        for i, raw in enumerate(records):
            if i in unchanged:  # seen at this version: nothing to do but count it
                self.pipeline.unchanged(keys[i])
                continue
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
            self.process(from_store(self.store, [row.record_key for row in mine]), force=True)
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
        records = from_store(self.store, sorted(ready))
        # Before a hold times out, its source is asked once more for what it needs.
        expiring = from_store(self.store, sorted(row.record_key for row in expired))
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
            self.process(from_store(self.store, due), force=True)
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


def from_store(store: Records, keys: Sequence[str]) -> list[RawRecord]:
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
