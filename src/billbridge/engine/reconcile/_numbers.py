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

from collections.abc import Iterable, Iterator, MutableMapping
from collections.abc import Set as AbstractSet
from itertools import groupby
from typing import Final

from ..numbers import Gap, gaps_in_order, number_like
from ._checks import register_check
from ._model import Discrepancy, NumberSeen, Views
from ._scratch import DiskMap, rows_of
from ._tables import DiskNumbers

__all__ = ["number_duplicates", "number_gaps", "repeats"]

_LISTED: Final = 50  # missing numbers listed in --json; the count is always given
_SHOWN: Final = 3  # missing numbers written out in the table before "…"


def repeats(
    source: Iterable[NumberSeen],
    claims: Iterable[NumberSeen],
    holders: MutableMapping[str, str] | None = None,
) -> list[tuple[NumberSeen, str]]:
    """Each source number held by another record, with that holder, in source order.

    Numbers of invoices no entity takes (`entity == ""`) are left out: those records
    fail on their own before the pipeline claims a number. `holders` is where the
    holder of each number is kept while reading (a dict unless given, e.g. on disk).
    """
    holder: MutableMapping[str, str] = {} if holders is None else holders
    for c in claims:
        holder[_slot(c)] = c.record_key
    found: list[tuple[NumberSeen, str]] = []
    for seen in source:
        if not seen.entity:
            continue
        held = holder.setdefault(_slot(seen), seen.record_key)
        if held != seen.record_key:
            found.append((seen, held))
    return found


def _slot(n: NumberSeen) -> str:
    """(entity, series, number) as one key; the separator is no printable character."""
    return f"{n.entity}\x1f{n.series}\x1f{n.number}"


def _holders(numbers: Iterable[NumberSeen]) -> MutableMapping[str, str] | None:
    """Where `repeats` keeps its holders: on disk beside numbers kept on disk."""
    if isinstance(numbers, DiskNumbers):
        return DiskMap(numbers.scratch, str, str)
    return None


def _present(numbers: Iterable[NumberSeen]) -> AbstractSet[str]:
    """Record keys that carry a number."""
    if isinstance(numbers, DiskNumbers):
        return numbers.records
    return {n.record_key for n in numbers}


def _issue_ref(views: Views, record: str) -> str | None:
    """Where `record`'s issue entry is in the books (the last copy), if it is there."""
    found = views.ledger.groups().get(f"{views.flow}|{record}|issue")
    return found[-1].ref if found else None


@register_check
def number_duplicates(views: Views) -> Iterator[Discrepancy]:
    """Two source records with one invoice number in one entity and series."""
    source = views.source
    connection = source.connection
    present = _present(source.numbers)
    found = repeats(source.numbers, views.posted.numbers, _holders(source.numbers))
    for seen, holder in found:
        pair = [holder, seen.record_key]
        refs = {r: ref for r in pair if (ref := _issue_ref(views, r)) is not None}
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


def _series_on_disk(
    source: DiskNumbers, claims: DiskNumbers
) -> Iterator[tuple[tuple[str, str], Iterator[tuple[int, str, str]]]]:
    """`_series` read from disk: each (entity, series) with its triples sorted by sequence
    number, in the order `_series` lists them within one (so the same first one counts)."""
    sql = f"""
        WITH n AS (
            SELECT 0 AS src, n, record, entity, series, number, seq
            FROM {source.name} WHERE seq IS NOT NULL
            UNION ALL
            SELECT 1, n, record, entity, series, number, seq
            FROM {claims.name} WHERE seq IS NOT NULL
        ),
        named AS (SELECT DISTINCT entity, series FROM n WHERE entity != '')
        SELECT entity, series, seq, number, record FROM (
            SELECT entity, series, seq, number, record, 0 AS loose, src, n
            FROM n WHERE entity != ''
            UNION ALL
            SELECT named.entity, n.series, n.seq, n.number, n.record, 1, n.src, n.n
            FROM n JOIN named ON named.series = n.series WHERE n.entity = ''
        ) ORDER BY entity, series, seq, loose, src, n
    """
    rows = rows_of(source.scratch.query(f"{source.name} {claims.name}", sql))
    for name, group in groupby(rows, key=lambda row: (row[0], row[1])):
        yield name, ((seq, number, record) for _, _, seq, number, record in group)


def _all_series(
    views: Views,
) -> Iterable[tuple[tuple[str, str], Iterable[tuple[int, str, str]]]]:
    """Every (entity, series) in order, with its triples sorted by sequence number."""
    source, claims = views.source.numbers, views.posted.numbers
    if isinstance(source, DiskNumbers) and isinstance(claims, DiskNumbers):
        return _series_on_disk(source, claims)
    return ((name, _first_sorted(seen)) for name, seen in sorted(_series(views).items()))


def _first_sorted(seen: Iterable[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """Sorted by sequence number; of triples with one number, the first seen stays first."""
    return sorted(seen, key=lambda item: item[0])


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
    for (entity, series), seen in _all_series(views):
        for gap in gaps_in_order(entity, series, seen):
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
