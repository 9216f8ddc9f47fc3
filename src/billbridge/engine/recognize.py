"""`billbridge recognize --through DATE`: post the revenue recognition due by a date, once.

Why a run like any other: each invoice with deferred lines is one record
(`<connection>:recognition:<invoice id>`) whose facets are its pieces, one per line and
month. It goes through the same pipeline as a synced record (write with retries, the
exception queue, audit rows), and the same batch commit: the target is flushed, then one
store transaction records the postings and the cursor. A run killed anywhere leaves
pieces either committed or in the target past the committed position, where the next
run's recovery finds their idempotency keys; so recognizing twice, or again after a
crash, posts each piece exactly once.

The flow's `recognized` cursor keeps the latest date recognition has run through,
committed with each batch of pieces; the deferred-balance checks (reconcile, the daily
report) compare the books with the schedules as of that date.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

from billbridge.mapping.recognition import RecognitionContext, plan_recognition
from billbridge.mapping.rules import Planned
from billbridge.store.base import CursorRow, SyncState

from .deferred import CURSOR, Group, Schedule, Schedules, groups, recognized_through
from .entries import entry_hash
from .gc_pause import fewer_collections
from .model import FlowRuntime, RunResult, StopRun
from .pipeline import RecordPipeline
from .retry import FailureKind
from .runner import Runner

__all__ = ["RecognitionPipeline", "RecognizeResult", "recognize_flow"]

_CHUNK = 200  # invoices planned and committed together


@dataclass(slots=True, kw_only=True)
class RecognizeResult:
    """A recognition run: the run's outcomes, the date, and the revenue it moved."""

    result: RunResult
    through: date
    # (entity, revenue account, currency) -> revenue recognized (negative: taken back)
    recognized: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.result.failed

    def as_json(self) -> dict[str, Any]:
        return {
            **self.result.as_json(),
            "through": self.through.isoformat(),
            "recognized": [
                {"entity": e, "account": a, "currency": c, "amount": f"{v:f}"}
                for (e, a, c), v in sorted(self.recognized.items())
            ],
        }


class RecognitionPipeline(RecordPipeline):
    """The record pipeline, fed with schedules instead of source records."""

    through: date
    recognized: dict[tuple[str, str, str], Decimal]

    def recognize(self, schedule: Schedule, through: date) -> str:
        """Write the pieces of `schedule` due by `through` that are not posted yet."""
        key, version, now = schedule.key, schedule.version, self.now()
        if schedule.problems:
            outcome = self._fail(key, version, schedule.problems, FailureKind.PERMANENT, now)
        else:
            posted = self._posted_facets(key)
            ctx = RecognitionContext(
                flow=self.flow.name,
                record=key,
                version=version,
                link=schedule.invoice,
                payee=schedule.payee,
            )
            planned = plan_recognition(schedule.legs, ctx, through=through, posted=posted)
            new = [p for p in planned if p.facet not in posted]
            changed = any(
                posted.get(p.facet) and posted[p.facet] != entry_hash(p.entry) for p in planned
            )
            if new or changed:
                outcome = self._write(key, version, planned, now)
                if outcome == "synced":
                    self._count_recognized(new)
            else:
                outcome = "unchanged"
                if key in self._queued:  # fixed since it failed (a mapping restored)
                    self._succeed(key, version, (), now)
        self.result.counts[outcome] += 1
        return outcome

    def _count_recognized(self, new: Iterable[Planned]) -> None:
        sums = self.recognized
        for item in new:
            revenue = item.entry.postings[0]
            where = (item.entry.entity, revenue.account, revenue.amount.currency)
            sums[where] = sums.get(where, Decimal(0)) - revenue.amount.amount


def _chunks(items: Iterable[Group], size: int) -> Iterator[list[Group]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def recognize_flow(
    flow: FlowRuntime,
    store: SyncState,
    *,
    through: date,
    actor: str = "system",
    dry_run: bool = False,
) -> RecognizeResult:
    """Post every recognition piece of `flow` due by `through`; each invoice is one record."""
    runner = Runner(
        flow, store, actor=actor, kind="recognize", dry_run=dry_run, pipeline=RecognitionPipeline
    )
    pipeline = cast(RecognitionPipeline, runner.pipeline)
    pipeline.recognized = {}
    # Committed with every batch: a piece in the books is never after the date the
    # deferred-balance checks compare with (a run cut short leaves the rest as "due").
    cursor = _cursor(store, flow, through)
    schedules = Schedules(
        flow,
        store,
        resolve=pipeline.resolve,
        invoice=pipeline.books.invoice,
        invoice_number=pipeline._invoice_number,
    )
    try:
        with fewer_collections():
            # Without `deferral:` only invoices recognized before (a mapping since changed)
            # can have pieces left; their recognition then says why it cannot go on.
            todo = [g for g in groups(store, flow) if flow.mapping.deferral or g.recognized]
            for chunk in _chunks(todo, _CHUNK):
                found: Sequence[Schedule] = list(schedules.schedules(chunk))
                pipeline.prefetch([s.key for s in found])
                for schedule in found:
                    pipeline.recognize(schedule, through)
                runner.commit([cursor])
        runner.commit([cursor])  # also when there was nothing to recognize
    except StopRun as exc:
        runner.result.stopped = str(exc)
        runner.commit([cursor])
    return RecognizeResult(
        result=runner.finish(), through=through, recognized=dict(pipeline.recognized)
    )


def _cursor(store: SyncState, flow: FlowRuntime, through: date) -> CursorRow:
    """The flow's `recognized` cursor: never moved back by an earlier `--through`."""
    before = recognized_through(store, flow.name)
    latest = through if before is None else max(before, through)
    return CursorRow(flow=flow.name, name=CURSOR, value=latest.isoformat())
