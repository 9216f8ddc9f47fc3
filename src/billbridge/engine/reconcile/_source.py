"""The source's view, read now: every record planned as the pipeline would plan it.

Two passes over the source's records, kept in the scratch file rather than in memory:
the first stores each record as read (and the keys it answers to, aliases included) so
that a record can look up a related one wherever it stands in the export (a payment
read before its invoice); the second normalizes and plans each record and writes what
it expects (entries, invoices, numbers) as sorted rows. Memory holds one record and a
small cache of recently looked-up ones.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from billbridge.connectors.base import LedgerLeg
from billbridge.domain import Invoice, InvoiceStatus, Severity
from billbridge.mapping.entities import facts_of, route
from billbridge.mapping.rules import Canonical, Context, plan_entries

from ..model import FlowRuntime
from ..numbers import series_of
from ..pipeline import entry_hash, record_key
from ._model import Expected, NumberSeen
from ._scratch import DiskMap, DiskSet, Scratch
from ._tables import (
    DiskNumbers,
    DiskRecords,
    RecordsByKey,
    decode_expected,
    encode_expected,
)

_RECENT: Final = 2_048  # looked-up records kept parsed (related records sit close together)


@dataclass(slots=True)
class SourceTables:
    """What the source gives now, on disk; `SourceView` is built from these."""

    records: DiskRecords  # as read, errors included (for the source's own checks)
    by_key: RecordsByKey  # the last record per record key (what --fix runs again)
    present: DiskMap[int]  # every key a record answers to (aliases too) → its place
    expected: DiskMap[Expected]
    unplannable: DiskSet
    numbers: DiskNumbers
    # id → the invoice, normalized again when read: kept as its record's place, since a
    # canonical invoice is large and checks read few of them (`plan_source` sets it)
    invoices: DiskMap[Invoice] = field(init=False)


class _Lookup:
    """A related record's data by (object, id), from the scratch file, with a small cache."""

    def __init__(self, connection: str, tables: SourceTables) -> None:
        self.connection = connection
        self.tables = tables
        self._recent: OrderedDict[str, Mapping[str, Any] | None] = OrderedDict()

    def __call__(self, obj: str, ident: str) -> Mapping[str, Any] | None:
        key = record_key(self.connection, obj, ident)
        recent = self._recent
        if key in recent:
            recent.move_to_end(key)
            return recent[key]
        place = self.tables.present.get(key)
        data = None if place is None else self.tables.records.data_at(place)
        recent[key] = data
        if len(recent) > _RECENT:
            recent.popitem(last=False)
        return data


def _number_seen(
    flow: FlowRuntime,
    key: str,
    data: Mapping[str, Any],
    value: Canonical | None,
    invoice: Callable[[str], Invoice | None],
) -> NumberSeen | None:
    """The invoice's number where the pipeline would claim it: entity, series, sequence.

    Drafts have no number yet. An invoice that fails normalization still carries its
    number (so it leaves no gap); its entity is "" when the mapping has several.
    """
    if isinstance(value, Invoice):
        if value.status is InvoiceStatus.DRAFT or not value.number:
            return None
        number, series, entity = value.number, value.series, ""
        routed = route(
            value,
            flow.mapping,
            record=key,
            facts=lambda: facts_of(value, connection=flow.source.name, invoice=invoice),
        )
        if isinstance(routed, tuple):
            entity = routed[0].entity
    else:
        described = flow.described(data)
        number, series = described.number, ""
        if not number or described.status == "draft":
            return None
        entity = "" if flow.mapping.entities else flow.mapping.entity
    series, seq = series_of(number, series)
    return NumberSeen(record_key=key, entity=entity, series=series, number=number, seq=seq)


def _by_reference(value: Invoice) -> bytes:
    raise TypeError("invoices are kept by their record's place (DiskMap.store)")


def read_source(flow: FlowRuntime, scratch: Scratch) -> SourceTables:
    """First pass: every record as read, and each key it answers to (the last one wins)."""
    records = DiskRecords(scratch)
    tables = SourceTables(
        records=records,
        by_key=RecordsByKey(records),
        present=DiskMap(scratch, int, int),
        expected=DiskMap(scratch, encode_expected, decode_expected),
        unplannable=DiskSet(scratch),
        numbers=DiskNumbers(scratch),
    )
    connection = flow.source.name
    for raw in flow.source.read(None):
        place = records.append(raw)
        if raw.error:
            continue
        key = record_key(connection, raw.object, raw.id)
        tables.by_key.places[key] = place
        tables.present[key] = place
        make = flow.aliases.get(raw.object)
        for alias in make(raw.data) if make else ():
            obj, _, ident = alias.partition(":")
            tables.present[record_key(connection, obj, ident)] = place
    return tables


def plan_source(
    flow: FlowRuntime, tables: SourceTables, facets: Callable[[str], Iterable[str]]
) -> None:
    """Second pass: normalize and plan every record; write what the source expects.

    `facets(record)` are the facets the store holds as posted for a record: a payment
    that went to `prepayment` before its invoice link existed is expected as a
    prepayment plus its application, as synced.
    """
    connection = flow.source.name
    resolve = _Lookup(connection, tables)

    def number(invoice_id: str) -> str:
        found = resolve("invoice", invoice_id)
        return flow.described(found).number if found else ""

    def invoice(invoice_id: str) -> Invoice | None:
        """The related invoice, normalized (FX rates and jurisdiction of its payments)."""
        found = resolve("invoice", invoice_id)
        if found is None:
            return None
        key = record_key(connection, "invoice", invoice_id)
        value = flow.normalize(found, record=key, resolve=resolve).value
        return value if isinstance(value, Invoice) else None

    def posted(record: str) -> set[str]:
        return set(facets(record))

    def invoice_at(place: int) -> Invoice:
        raw = tables.records.at(place)
        key = record_key(connection, raw.object, raw.id)
        value = flow.normalize(raw.data, record=key, resolve=resolve).value
        if not isinstance(value, Invoice):  # it was one when planned: same input, same value
            raise KeyError(key)
        return value

    tables.invoices = DiskMap(tables.present.scratch, _by_reference, invoice_at)
    for place, raw in tables.records.numbered():
        if raw.error:
            continue
        key = record_key(connection, raw.object, raw.id)
        normalized = flow.normalize(raw.data, record=key, resolve=resolve)
        if raw.object == "invoice":
            if isinstance(normalized.value, Invoice):
                tables.invoices.store(raw.id, place)
            seen = _number_seen(flow, key, raw.data, normalized.value, invoice)
            if seen is not None:
                tables.numbers.append(seen)
        if normalized.waiting_on is not None or any(
            p.severity is Severity.ERROR for p in normalized.problems
        ):
            tables.unplannable.add(key)
            continue
        if normalized.value is None:
            continue
        ctx = Context(
            flow=flow.name,
            connection=connection,
            record=key,
            version=hashlib.blake2b(raw.raw, digest_size=10).hexdigest(),
            invoice_number=number,
            invoice=invoice,
            payment_object=flow.payment_object,
            posted=posted,
        )
        plan = plan_entries(normalized.value, flow.mapping, ctx)
        # Warnings (a doubtful VAT id) post with the entry, as the pipeline does.
        if any(p.severity is Severity.ERROR for p in plan.problems):
            tables.unplannable.add(key)
            continue
        for item in plan.entries:
            entry = item.entry
            tables.expected[entry.key] = Expected(
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
