"""Reconcile's invoice-number checks (issue 5): duplicates and gaps, per entity and series.

Why here and not only in `billbridge numbers`: the store knows the numbers billbridge
has seen, but a number can be repeated, or skipped, by invoices that never reached a sync
(exported after the last run) or that failed before their number was claimed. So both
checks read the source as it is now, beside the store's claims:

- `number_duplicate`: two records carry one number. The holder is the record the store
  says claimed it first, else the first one in the source's order, which is exactly the
  record the pipeline would let post; every other record with that number is a repeat,
  which the pipeline fails, so reconcile does not plan it (`repeats`, used by `_collect`)
  and reports it once, here. `--fix` queues it as a `conflict` naming both records.
- `number_gap`: numbers missing between two found ones. Informational (fix `none`): a
  gap may be legitimate (a voided or deleted draft), so it is never fixed, never queued
  and does not make reconcile exit 1. billbridge never renumbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from ..numbers import Gap, find_gaps, number_like
from ._checks import register_check
from ._model import Discrepancy, LedgerView, NumberSeen, Views, split_key

__all__ = ["number_duplicates", "number_gaps", "repeats"]

_LISTED: Final = 50  # missing numbers listed in --json; the count is always given
_SHOWN: Final = 3  # missing numbers written out in the table before "…"


def repeats(
    source: Iterable[NumberSeen], claims: Iterable[NumberSeen]
) -> list[tuple[NumberSeen, str]]:
    """Each source number held by another record, with that holder, in source order.

    Numbers of invoices no entity takes (`entity == ""`) are left out: those records
    fail on their own before the pipeline claims a number.
    """
    holder = {(c.entity, c.series, c.number): c.record_key for c in claims}
    found: list[tuple[NumberSeen, str]] = []
    for seen in source:
        if not seen.entity:
            continue
        held = holder.setdefault((seen.entity, seen.series, seen.number), seen.record_key)
        if held != seen.record_key:
            found.append((seen, held))
    return found


def _issue_refs(ledger: LedgerView) -> dict[str, str]:
    """Record key → where its issue entry is in the books."""
    return {
        p.record_key or split_key(p.idempotency_key)[1]: p.ref
        for p in ledger.postings
        if split_key(p.idempotency_key)[2] == "issue"
    }


@register_check
def number_duplicates(views: Views) -> Iterator[Discrepancy]:
    """Two source records with one invoice number in one entity and series."""
    source = views.source
    connection = source.connection
    present = {n.record_key for n in source.numbers}
    refs = _issue_refs(views.ledger)
    for seen, holder in repeats(source.numbers, views.posted.numbers):
        pair = [holder, seen.record_key]
        where = "" if holder in present else " (billbridge saw it; the source no longer has it)"
        books = [f"{r} posted ({refs[r]})" for r in pair if r in refs]
        yield Discrepancy(
            kind="number_duplicate",
            flow=views.flow,
            record_key=seen.record_key,
            idempotency_key=f"{views.flow}|{seen.record_key}|number",
            source_ref=", ".join(pair),
            target_ref=", ".join(refs[r] for r in pair if r in refs),
            source_value=f"{seen.number} on {holder} and {seen.record_key}",
            target_value="; ".join(books) or "neither is posted",
            owner=connection,
            fix="queue",
            detail=(
                f"invoice number {seen.number} (entity {seen.entity}, series {seen.series!r}) "
                f"is carried by {holder}{where} and by {seen.record_key}; the second cannot "
                "post under a number another invoice holds"
            ),
            hint=(
                f"correct the number in {connection} if it was mistyped; if both invoices were "
                "issued under one number, ask your accountant (credit one, issue it again "
                "under a new number), then dismiss this row. billbridge never renumbers"
            ),
            extra={
                "entity": seen.entity,
                "series": seen.series,
                "number": seen.number,
                "records": pair,
            },
        )


def _series(views: Views) -> dict[tuple[str, str], list[tuple[int, str, str]]]:
    """(entity, series) → (seq, number, record) from the source now, then the store.

    A number whose invoice no entity takes counts in every entity's series of its name:
    the number was issued, so it leaves no gap (its record fails for its own reason).
    """
    grouped: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    loose: list[tuple[str, tuple[int, str, str]]] = []
    for n in (*views.source.numbers, *views.posted.numbers):
        if n.seq is None:
            continue
        if not n.entity:
            loose.append((n.series, (n.seq, n.number, n.record_key)))
            continue
        grouped.setdefault((n.entity, n.series), []).append((n.seq, n.number, n.record_key))
    for name, item in loose:
        for (_, series), seen in grouped.items():
            if series == name:
                seen.append(item)
    return grouped


def _missing(gap: Gap) -> list[str]:
    first, last = gap.missing
    return [number_like(gap.before, s) for s in range(first, min(last, first + _LISTED - 1) + 1)]


def _missing_text(gap: Gap) -> str:
    first, last = gap.missing
    if gap.count <= _SHOWN:
        return ", ".join(number_like(gap.before, s) for s in range(first, last + 1))
    return (
        f"{number_like(gap.before, first)} … {number_like(gap.before, last)} ({gap.count} numbers)"
    )


@register_check
def number_gaps(views: Views) -> Iterator[Discrepancy]:
    """Numbers missing between two found ones, per entity and series (reported only)."""
    connection = views.source.connection
    for (entity, series), seen in sorted(_series(views).items()):
        for gap in find_gaps(entity, series, seen):
            first, last = gap.missing
            text = _missing_text(gap)
            yield Discrepancy(
                kind="number_gap",
                flow=views.flow,
                record_key=gap.before_record or gap.after_record,
                idempotency_key=f"{views.flow}|{entity}:{series}|gap-{first}-{last}",
                source_ref=f"{gap.after_record}, {gap.before_record}",
                target_ref="",
                source_value=f"{gap.after} … {gap.before}: {text} missing",
                target_value="(not a ledger value)",
                owner=connection,
                fix="none",
                detail=(
                    f"entity {entity}, series {series!r}: no invoice numbered {text} between "
                    f"{gap.after} ({gap.after_record}) and {gap.before} ({gap.before_record})"
                ),
                hint=(
                    "reported only: a gap can be legitimate (a voided or deleted draft, a "
                    f"number burnt by a failed call); if an invoice is missing, export it "
                    f"from {connection} and sync. billbridge never renumbers"
                ),
                extra={
                    "entity": entity,
                    "series": series,
                    "after": {"number": gap.after, "record_key": gap.after_record},
                    "before": {"number": gap.before, "record_key": gap.before_record},
                    "missing": _missing(gap),
                    "missing_count": gap.count,
                },
            )
