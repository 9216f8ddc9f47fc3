"""Invoice-number integrity: unique per entity and series, gaps reported, never renumbered.

Why a duplicate fails and a gap does not: two invoices with one number is a legal defect
(a tax authority sees one document twice) that must stop before it reaches the books; a
missing number may be legitimate (a deleted draft, a number burnt by a failed API call),
so it is reported for a person to explain, never "fixed". billbridge never renumbers.

The series is the source's own (`Invoice.series`) or, when it has none, the number's
text before its trailing digits (`HB-0042` is number 42 of series `HB-`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Final

from billbridge.domain import Invoice, InvoiceStatus, Problem
from billbridge.store import Store

__all__ = [
    "Claim",
    "Gap",
    "SeriesReport",
    "Slot",
    "check_invoice_number",
    "gaps",
    "series_of",
    "series_report",
]

_TRAILING: Final = re.compile(r"^(.*?)(\d+)$")


def series_of(number: str, series: str = "") -> tuple[str, int | None]:
    """(series, sequence number) of an invoice number; seq is None without trailing digits."""
    match = _TRAILING.match(number)
    if match is None:
        return series or number, None
    return series or match.group(1), int(match.group(2))


Slot = tuple[str, str, str]  # entity, series, number
Claim = tuple[str, str, str, int | None, str, datetime]  # slot, seq, record key, first seen


def check_invoice_number(
    store: Store,
    inv: Invoice,
    *,
    entity: str,
    record: str,
    at: datetime,
    pending: dict[Slot, str],
    claims: list[Claim] | None,
) -> Problem | None:
    """Claim the invoice's number for `record`; a number another record holds is a Problem.

    Claims not yet committed are in `pending` (this batch's), committed ones in the store.
    A new claim is appended to `claims` (the batch's, written in its one transaction, so a
    crash never leaves a claim without its record's outcome); `claims=None` in a dry run.
    """
    if inv.status is InvoiceStatus.DRAFT or not inv.number:
        return None  # a draft has no number yet (or a provisional one)
    series, seq = series_of(inv.number, inv.series)
    slot = (entity, series, inv.number)
    owner = pending.get(slot) or store.invoice_number_owner(
        entity=entity, series=series, number=inv.number
    )
    if owner is None:
        pending[slot] = record
        if claims is not None:
            claims.append((entity, series, inv.number, seq, record, at))
        return None
    if owner == record:
        return None
    return Problem(
        record=record,
        field="number",
        message=f"invoice number {inv.number} (entity {entity}, series {series!r}) is already "
        f"used by {owner}; this record {record} repeats it",
        hint="invoice numbers must be unique: correct the number in the source system (or void "
        "one of the two there), then replay; billbridge never renumbers",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    entity: str
    series: str
    after: str  # the number before the gap
    before: str  # the number after it
    missing: tuple[int, int]  # first and last missing sequence number


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesReport:
    entity: str
    series: str
    count: int
    first: str
    last: str
    gaps: tuple[Gap, ...]


def series_report(store: Store, *, entity: str | None = None) -> list[SeriesReport]:
    """Per entity and series: how many numbers were seen, the first, the last and the gaps."""
    grouped: dict[tuple[str, str], list[tuple[int, str]]] = {}
    unnumbered: dict[tuple[str, str], list[str]] = {}
    for row in store.invoice_numbers(entity=entity):
        key = (row.entity, row.series)
        if row.seq is None:
            unnumbered.setdefault(key, []).append(row.number)
        else:
            grouped.setdefault(key, []).append((row.seq, row.number))
    reports: list[SeriesReport] = []
    for key in sorted(grouped.keys() | unnumbered.keys()):
        seen = sorted(grouped.get(key, []))
        found: list[Gap] = []
        for (a, a_num), (b, b_num) in pairwise(seen):
            if b > a + 1:
                found.append(
                    Gap(
                        entity=key[0],
                        series=key[1],
                        after=a_num,
                        before=b_num,
                        missing=(a + 1, b - 1),
                    )
                )
        names = [n for _, n in seen] or sorted(unnumbered.get(key, []))
        reports.append(
            SeriesReport(
                entity=key[0],
                series=key[1],
                count=len(seen) + len(unnumbered.get(key, [])),
                first=names[0],
                last=names[-1],
                gaps=tuple(found),
            )
        )
    return reports


def gaps(store: Store, *, entity: str | None = None) -> list[Gap]:
    """Every gap in every series (a gap may be legitimate; it is reported, never filled)."""
    return [gap for report in series_report(store, entity=entity) for gap in report.gaps]
