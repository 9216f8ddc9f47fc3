"""Reconcile's edges: gather the three views, then apply the fixes that are certain.

Why the fixes are split this way: only two fixes can be made without a person's
judgement. A record the source gives but the books lack (and billbridge never posted)
is posted through the normal pipeline, with its audit rows. A duplicate is answered
with a reversal entry, never by editing or deleting what is posted. Everything else
(an edited amount, an orphan, a payout that does not add up) becomes a `conflict` row
in the exception queue, where a person decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from billbridge.connectors.base import (
    ConnectorError,
    FatalError,
    LedgerLeg,
    LedgerPosting,
    LedgerReader,
    RawRecord,
)
from billbridge.domain import DomainError, JournalEntry, Money, Posting, Severity
from billbridge.mapping.rules import Context, plan_entries
from billbridge.store.base import (
    AuditEvent,
    Batch,
    CursorRow,
    DiscrepancyRow,
    ExceptionRow,
    PostingRow,
    Store,
)

from .model import FlowRuntime
from .pipeline import entry_hash, record_key
from .reconcile import (
    Discrepancy,
    Expected,
    LedgerView,
    PayoutCheck,
    PostedView,
    SourceView,
    Views,
    compare,
    reversal_key,
    reversed_of,
)
from .run import process_records, recover_target

__all__ = ["FixReport", "Reconciled", "apply_fixes", "collect", "payout_checks", "reconcile_flow"]


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


@dataclass(slots=True, kw_only=True)
class Reconciled:
    flow: str
    discrepancies: list[Discrepancy]
    fixes: FixReport | None = None


# ---------------------------------------------------------------------- the source
def payout_checks(connection: str, records: Iterable[Mapping[str, Any]]) -> list[PayoutCheck]:
    """Each payout beside the balance transactions it pays out, in export order.

    A balance transaction that names its payout (`payout`, as Stripe's payout
    reconciliation gives it) belongs to that payout. When none does, an automatic payout
    pays out every balance transaction of its currency since the previous payout.
    """
    rows = list(records)
    explicit = any(
        r.get("object") == "balance_transaction" and isinstance(r.get("payout"), str) for r in rows
    )
    named: dict[str, list[int]] = {}
    pending: dict[str, list[int]] = {}
    checks: list[PayoutCheck] = []
    for row in rows:
        kind = row.get("object")
        currency = str(row.get("currency", "")).upper()
        if kind == "balance_transaction" and row.get("type") != "payout":
            net = row.get("net")
            if not isinstance(net, int):
                continue
            if explicit:
                owner = row.get("payout")
                if isinstance(owner, str):
                    named.setdefault(owner, []).append(net)
            else:
                pending.setdefault(currency, []).append(net)
        elif kind == "payout" and isinstance(row.get("amount"), int):
            ident = str(row.get("id", ""))
            nets = named.get(ident, []) if explicit else pending.pop(currency, [])
            checks.append(
                PayoutCheck(
                    record_key=record_key(connection, "payout", ident),
                    currency=currency,
                    amount=int(row["amount"]),
                    transactions=len(nets),
                    transactions_sum=sum(nets),
                )
            )
    return checks


def _invoice_state(data: Mapping[str, Any]) -> dict[str, Any]:
    """Status, amount paid and number, in either API shape (2017-08-15 has `paid`).

    The number and creation time are for checks other parts register (invoice number
    gaps and duplicates), which read `SourceView.invoices`.
    """
    status = data.get("status")
    paid = data.get("amount_paid")
    if status is None and data.get("paid") is True:
        status = "paid"
        paid = paid if paid is not None else data.get("amount_due")
    return {
        "status": status,
        "amount_paid": paid,
        "currency": data.get("currency"),
        "number": data.get("number"),
        "created": data.get("created"),
    }


def _source_view(flow: FlowRuntime, raws: Sequence[RawRecord]) -> SourceView:
    connection = flow.source.name
    data: dict[str, Mapping[str, Any]] = {}
    for raw in raws:
        if raw.error:
            continue
        data[record_key(connection, raw.object, raw.id)] = raw.data
        make = flow.aliases.get(raw.object)
        for alias in make(raw.data) if make else ():
            obj, _, ident = alias.partition(":")
            data[record_key(connection, obj, ident)] = raw.data

    def resolve(obj: str, ident: str) -> Mapping[str, Any] | None:
        return data.get(record_key(connection, obj, ident))

    def number(invoice_id: str) -> str:
        found = resolve("invoice", invoice_id)
        return str(found.get("number") or "") if found else ""

    expected: dict[str, Expected] = {}
    unplannable: set[str] = set()
    invoices: dict[str, Mapping[str, Any]] = {}
    for raw in raws:
        if raw.error:
            continue
        key = record_key(connection, raw.object, raw.id)
        if raw.object == "invoice":
            invoices[raw.id] = _invoice_state(raw.data)
        normalized = flow.normalize(raw.data, record=key, resolve=resolve)
        if normalized.waiting_on is not None or any(
            p.severity is Severity.ERROR for p in normalized.problems
        ):
            unplannable.add(key)
            continue
        if normalized.value is None:
            continue
        version = hashlib.blake2b(raw.raw, digest_size=10).hexdigest()
        ctx = Context(
            flow=flow.name,
            connection=connection,
            record=key,
            version=version,
            invoice_number=number,
        )
        plan = plan_entries(normalized.value, flow.mapping, ctx)
        if plan.problems:
            unplannable.add(key)
            continue
        for item in plan.entries:
            entry = item.entry
            expected[entry.key] = Expected(
                idempotency_key=entry.key,
                record_key=key,
                facet=item.facet,
                link=entry.links[0] if entry.links else "",
                legs=tuple(
                    LedgerLeg(account=p.account, amount=p.amount.amount, currency=p.amount.currency)
                    for p in entry.postings
                ),
                entry_hash=entry_hash(entry),
            )
    return SourceView(
        connection=connection,
        expected=expected,
        records=frozenset(data),
        unplannable=frozenset(unplannable),
        invoices=invoices,
        payouts=tuple(payout_checks(connection, (r.data for r in raws if not r.error))),
    )


def _ledger_postings(flow: FlowRuntime) -> Iterator[LedgerPosting]:
    target = flow.target
    if not isinstance(target, LedgerReader):
        raise FatalError(
            f"the target {target.name!r} of flow {flow.name!r} cannot be read back, "
            "so it cannot be reconciled"
        )
    prefix = f"{flow.name}|"
    return (p for p in target.ledger_postings() if p.idempotency_key.startswith(prefix))


def collect(flow: FlowRuntime, store: Store) -> tuple[Views, dict[str, RawRecord]]:
    """Read the source and the ledger now, and the store's postings and queue."""
    raws = list(flow.source.read(None))
    by_key = {record_key(flow.source.name, r.object, r.id): r for r in raws if not r.error}
    posted = {
        p.idempotency_key: (p.entry_hash, p.target_ref, p.posted_at)
        for p in store.iter_postings(flow=flow.name)
    }
    queued = frozenset(row.record_key for row in store.open_exceptions(flow=flow.name))
    views = Views(
        flow=flow.name,
        source=_source_view(flow, raws),
        posted=PostedView(postings=posted, queued=queued),
        ledger=LedgerView(target=flow.target.name, postings=tuple(_ledger_postings(flow))),
    )
    return views, by_key


# ---------------------------------------------------------------------- fixes
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
    store: Store,
    duplicates: Sequence[Discrepancy],
    ledger: Sequence[LedgerPosting],
    *,
    actor: str,
    report: FixReport,
) -> None:
    if not duplicates:
        return
    run = store.start_run(flow=flow.name, kind="reconcile", actor=actor)
    written = 0
    try:
        recover_target(flow, store, actor=actor, run_id=run.id)
        for finding in duplicates:
            copies = [p for p in ledger if p.idempotency_key == finding.idempotency_key]
            done = sum(
                1 for p in ledger if reversed_of(p.idempotency_key) == finding.idempotency_key
            )
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
                            link=entry.links[0] if entry.links else "",
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
    finally:
        store.finish_run(run.id, counts={"synced": written}, status="finished")


def _queue(
    flow: FlowRuntime, store: Store, findings: Sequence[Discrepancy], *, actor: str
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
    store: Store,
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
        views.ledger.postings,
        actor=actor,
        report=report,
    )
    report.queued = _queue(flow, store, [d for d in todo if d.fix == "queue"], actor=actor)
    report.queued.extend(k for k in pipeline_queued if k not in report.queued)
    return report


def reconcile_flow(
    flow: FlowRuntime, store: Store, *, fix: bool = False, actor: str = "system"
) -> Reconciled:
    """Compare one flow's three views; with `fix`, apply the certain fixes, queue the rest."""
    views, raws = collect(flow, store)
    found = compare(views)
    result = Reconciled(flow=flow.name, discrepancies=found)
    now = datetime.now(UTC)
    store.save_discrepancies(flow.name, _rows(found), at=now)
    first_seen = {
        (row.kind, row.idempotency_key): row.first_seen
        for row in store.open_discrepancies(flow=flow.name)
    }
    found = [
        replace(d, since=first_seen.get((d.kind, d.idempotency_key)) or d.since) for d in found
    ]
    result.discrepancies = found
    if fix:
        result.fixes = apply_fixes(flow, store, views, found, raws, actor=actor)
        left = [
            d
            for d in found
            if d.fix not in {"post", "reverse"} or d.idempotency_key not in result.fixes.healed
        ]
        store.save_discrepancies(flow.name, _rows(left), at=datetime.now(UTC))
    return result


def _rows(found: Sequence[Discrepancy]) -> list[DiscrepancyRow]:
    return [
        DiscrepancyRow(
            flow=d.flow,
            kind=d.kind,
            record_key=d.record_key,
            idempotency_key=d.idempotency_key,
            owner=d.owner,
            fix="queued" if d.queued else d.fix,
            detail=d.detail,
        )
        for d in found
    ]
