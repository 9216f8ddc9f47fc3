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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final, Protocol

from billbridge.domain import Invoice, InvoiceStatus, Problem
from billbridge.store import NumberWindow
from billbridge.store.base import Numbers

__all__ = [
    "BatchOwners",
    "Claim",
    "Gap",
    "Owners",
    "SeriesReport",
    "Slot",
    "check_invoice_number",
    "find_gaps",
    "gaps",
    "gaps_in_order",
    "number_like",
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


def number_like(neighbour: str, seq: int) -> str:
    """The number `seq` written like `neighbour` (`number_like("HB-0042", 7) == "HB-0007"`)."""
    match = _TRAILING.match(neighbour)
    if match is None:
        return str(seq)
    return f"{match.group(1)}{seq:0{len(match.group(2))}d}"


Slot = tuple[str, str, str]  # entity, series, number
Claim = tuple[str, str, str, int | None, str, datetime]  # slot, seq, record key, first seen


class Owners(Protocol):
    """Where `check_invoice_number` asks who holds a number: a `Store` or `BatchOwners`."""

    def invoice_number_owner(self, *, entity: str, series: str, number: str) -> str | None: ...


class BatchOwners:
    """The store's invoice-number owners for one batch, read a window of numbers at a time.

    Why: one query per invoice was the sync's most frequent read, and invoices mostly come
    in number order, so one read of the claimed numbers from N on
    (`Store.invoice_number_window`) answers the next look-ups too; a backfill of new
    numbers reads once per series and batch. The answers hold for one batch, as the
    versions `RecordPipeline.prefetch` reads do: call `forget` when a batch is taken
    (its claims are in the store from then on) and when a new one starts.
    """

    WINDOW: ClassVar[int] = 32  # numbers per read; a look-up out of order wastes the rest

    def __init__(self, store: Numbers) -> None:
        self.store = store
        self._owners: dict[Slot, str] = {}  # every claimed number read in this batch
        self._windows: dict[tuple[str, str], NumberWindow] = {}  # the last read per series

    def forget(self) -> None:
        self._owners.clear()
        self._windows.clear()

    def invoice_number_owner(self, *, entity: str, series: str, number: str) -> str | None:
        owner = self._owners.get((entity, series, number))
        if owner is not None:
            return owner
        window = self._windows.get((entity, series))
        if window is not None and window.covers(number):
            return None
        window = self.store.invoice_number_window(
            entity=entity, series=series, number=number, limit=self.WINDOW
        )
        self._windows[(entity, series)] = window
        for claimed, holder in window.owners.items():
            self._owners[(entity, series, claimed)] = holder
        return window.owners.get(number)


def check_invoice_number(
    store: Owners,
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
    after_record: str = ""  # the records holding `after` and `before`
    before_record: str = ""

    @property
    def count(self) -> int:
        return self.missing[1] - self.missing[0] + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesReport:
    entity: str
    series: str
    count: int
    first: str
    last: str
    gaps: tuple[Gap, ...]


def series_report(store: Numbers, *, entity: str | None = None) -> list[SeriesReport]:
    """Per entity and series: how many numbers were seen, the first, the last and the gaps."""
    grouped: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    unnumbered: dict[tuple[str, str], list[str]] = {}
    for row in store.invoice_numbers(entity=entity):
        key = (row.entity, row.series)
        if row.seq is None:
            unnumbered.setdefault(key, []).append(row.number)
        else:
            grouped.setdefault(key, []).append((row.seq, row.number, row.record_key))
    reports: list[SeriesReport] = []
    for key in sorted(grouped.keys() | unnumbered.keys()):
        seen = sorted(grouped.get(key, []))
        found = find_gaps(key[0], key[1], seen)
        names = [n for _, n, _ in seen] or sorted(unnumbered.get(key, []))
        reports.append(
            SeriesReport(
                entity=key[0],
                series=key[1],
                count=len(seen) + len(unnumbered.get(key, [])),
                first=names[0],
                last=names[-1],
                gaps=found,
            )
        )
    return reports


def find_gaps(entity: str, series: str, seen: Iterable[tuple[int, str, str]]) -> tuple[Gap, ...]:
    """The gaps of one series, from its (seq, number, record key) triples in any order.

    Pure, so `billbridge numbers` (numbers the store saw) and reconcile (the source now,
    plus the store) find the same gaps. A sequence number seen twice counts once.
    """
    first: dict[int, tuple[str, str]] = {}
    for seq, number, record in seen:
        first.setdefault(seq, (number, record))
    return tuple(gaps_in_order(entity, series, ((s, *first[s]) for s in sorted(first))))


def gaps_in_order(entity: str, series: str, seen: Iterable[tuple[int, str, str]]) -> Iterator[Gap]:
    """`find_gaps` over triples already sorted by sequence number, holding one at a time
    (reconcile reads a whole history's numbers this way, sorted on disk). Of triples with
    one sequence number, the first counts."""
    before: tuple[int, str, str] | None = None
    for item in seen:
        if before is not None and item[0] == before[0]:
            continue
        if before is not None and item[0] > before[0] + 1:
            yield Gap(
                entity=entity,
                series=series,
                after=before[1],
                before=item[1],
                missing=(before[0] + 1, item[0] - 1),
                after_record=before[2],
                before_record=item[2],
            )
        before = item


def gaps(store: Numbers, *, entity: str | None = None) -> list[Gap]:
    """Every gap in every series (a gap may be legitimate; it is reported, never filled)."""
    return [gap for report in series_report(store, entity=entity) for gap in report.gaps]
