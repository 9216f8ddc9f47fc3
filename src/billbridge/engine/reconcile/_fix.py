"""Reconcile's fixes: apply those that are certain, queue the rest for a person.

Why the fixes are split this way: only two fixes can be made without a person's
judgement. A record the source gives but the books lack (and billbridge never posted)
is posted through the normal pipeline, with its audit rows. A duplicate is answered
with a reversal entry, never by editing or deleting what is posted. Everything else
(an edited amount, an orphan, a payout that does not add up, an invoice repeating a
number) becomes a `conflict` row in the exception queue, where a person decides. A
finding with fix "none" (a number gap) is only reported: nothing here touches it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from billbridge.connectors.base import (
    ConnectorError,
    LedgerPosting,
    RawRecord,
)
from billbridge.domain import DomainError, JournalEntry, Money, Posting
from billbridge.store.base import (
    AuditEvent,
    Batch,
    CursorRow,
    ExceptionRow,
    PostingRow,
    SyncState,
)

from ..liveness import RunLife
from ..model import FlowRuntime
from ..pipeline import entry_hash, entry_lines, record_key
from ..run import process_records, recover_target
from ._checks import reversal_counts
from ._model import Discrepancy, Views, reversal_key


@dataclass(slots=True, kw_only=True)
class FixReport:
    posted: list[str] = field(default_factory=list)  # record keys run through the pipeline
    reversed: list[str] = field(default_factory=list)  # reversal idempotency keys posted
    queued: list[str] = field(default_factory=list)  # record keys queued as conflicts
    failed: list[str] = field(default_factory=list)  # fixes that could not be applied, why
    healed: set[str] = field(default_factory=set)  # idempotency keys of the fixed findings

    def as_json(self) -> dict[str, list[str]]:
        return {
            "posted": self.posted,
            "reversed": self.reversed,
            "queued": self.queued,
            "failed": self.failed,
        }


def _reversal(posting: LedgerPosting, key: str, record: str, at: datetime) -> JournalEntry:
    return JournalEntry(
        date=at.date(),
        narration=f"Reversal of a duplicate of {posting.idempotency_key} ({posting.ref})",
        postings=tuple(
            Posting(account=leg.account, amount=Money(amount=-leg.amount, currency=leg.currency))
            for leg in posting.legs
        ),
        key=key,
        source=record,
        version="",
        links=posting.links[:1],
    )


def _reverse_duplicates(
    flow: FlowRuntime,
    store: SyncState,
    duplicates: Sequence[Discrepancy],
    ledger: Mapping[str, tuple[LedgerPosting, ...]],
    *,
    actor: str,
    report: FixReport,
) -> None:
    if not duplicates:
        return
    done_before = reversal_counts(ledger)  # reversals the books already hold, per key
    life = RunLife(store, flow=flow.name, kind="reconcile", actor=actor)
    run = life.run
    written = 0
    with life:
        recover_target(flow, store, actor=actor, run_id=run.id)
        for finding in duplicates:
            copies = list(ledger.get(finding.idempotency_key, ()))
            done = done_before[finding.idempotency_key]
            for i in range(len(copies) - done - 1):
                n, copy = done + 1 + i, copies[-(i + 1)]
                key = reversal_key(finding.idempotency_key, n)
                now = datetime.now(UTC)
                try:
                    entry = _reversal(copy, key, finding.record_key, now)
                    place = flow.target.write([entry])
                    position = flow.target.flush()
                except (DomainError, ConnectorError) as exc:
                    report.failed.append(f"{key}: {exc}")
                    continue
                _, _, facet = key.split("|", 2)
                batch = Batch(
                    postings=[
                        PostingRow(
                            flow=flow.name, record_key=finding.record_key, facet=facet,
                            idempotency_key=key, version="", entry_hash=entry_hash(entry),
                            target=flow.target.name, target_ref=place.ref, run_id=run.id,
                            posted_at=now, summary=entry.narration,
                            link=entry.links[0] if entry.links else "", lines=entry_lines(entry),
                        )
                    ],
                    audit=[
                        AuditEvent(
                            actor=actor, action="reversed", record_key=finding.record_key,
                            run_id=run.id, at=now,
                            diff={"duplicate": [copy.ref, None], "reversal": [None, key]},
                        )
                    ],
                    cursors=[
                        CursorRow(
                            flow="*", name=f"target:{flow.target.name}", value="",
                            position=position,
                        )
                    ],
                )  # fmt: skip
                store.commit(batch)
                report.reversed.append(key)
                report.healed.add(finding.idempotency_key)
                written += 1
                life.counts = {"synced": written}
        life.finish(counts={"synced": written}, status="finished")


def _queue(
    flow: FlowRuntime, store: SyncState, findings: Sequence[Discrepancy], *, actor: str
) -> list[str]:
    by_record: dict[str, list[Discrepancy]] = {}
    for finding in findings:
        by_record.setdefault(finding.record_key, []).append(finding)
    now = datetime.now(UTC)
    batch = Batch()
    records = store.get_records(list(by_record))
    for record, group in by_record.items():
        row = records.get(record)
        batch.exceptions.append(
            ExceptionRow(
                flow=flow.name,
                record_key=record,
                version=row.version if row else "",
                kind="conflict",
                error="; ".join(f"{d.kind}: {d.detail}" for d in group),
                at=now,
                field=group[0].kind,
                hint=group[0].hint,
            )
        )
        batch.audit.append(
            AuditEvent(
                actor=actor,
                action="conflict",
                record_key=record,
                at=now,
                diff={"reconcile": [None, [d.kind for d in group]]},
            )
        )
    store.commit(batch)
    return list(by_record)


def apply_fixes(
    flow: FlowRuntime,
    store: SyncState,
    views: Views,
    findings: Sequence[Discrepancy],
    raws: Mapping[str, RawRecord],
    *,
    actor: str,
) -> FixReport:
    """Post what is missing, reverse duplicates, queue the rest; skip what is queued."""
    report = FixReport()
    pipeline_queued: list[str] = []
    todo = [d for d in findings if not d.queued]
    post_keys = list(dict.fromkeys(d.record_key for d in todo if d.fix == "post"))
    records = [raws[k] for k in post_keys if k in raws]
    if records:
        result = process_records(
            flow, store, records, actor=actor, kind="reconcile", action="reconcile-fix"
        )
        if result.stopped:
            report.failed.append(f"posting stopped: {result.stopped}")
        # The pipeline may still hold, fail or refuse (conflict) a record: then it is in
        # the queue with the pipeline's own reason, and counts as queued, not fixed.
        waiting = {row.record_key for row in store.open_exceptions(flow=flow.name)}
        done = [r for r in records if record_key(flow.source.name, r.object, r.id) not in waiting]
        done_keys = {record_key(flow.source.name, r.object, r.id) for r in done}
        if not result.stopped:
            report.posted.extend(k for k in post_keys if k in done_keys)
            report.healed.update(
                d.idempotency_key for d in todo if d.fix == "post" and d.record_key in done_keys
            )
        pipeline_queued = [k for k in post_keys if k in waiting]
    _reverse_duplicates(
        flow,
        store,
        [d for d in todo if d.fix == "reverse"],
        views.ledger.groups(),
        actor=actor,
        report=report,
    )
    report.queued = _queue(flow, store, [d for d in todo if d.fix == "queue"], actor=actor)
    report.queued.extend(k for k in pipeline_queued if k not in report.queued)
    return report
