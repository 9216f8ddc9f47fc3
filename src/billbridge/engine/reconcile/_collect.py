"""Gathering the three views at the edges: the source and the ledger read now, the store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from billbridge.connectors.base import (
    FatalError,
    LedgerLeg,
    LedgerPosting,
    LedgerReader,
    RawRecord,
)
from billbridge.domain import Invoice, InvoiceStatus, Severity
from billbridge.mapping.entities import facts_of, route
from billbridge.mapping.rules import Canonical, Context, plan_entries
from billbridge.store.base import (
    SyncState,
)

from ..model import FlowRuntime
from ..numbers import series_of
from ..pipeline import entry_hash, record_key
from ._deferred import with_recognition
from ._model import (
    Expected,
    LedgerView,
    NumberSeen,
    PostedView,
    SourceView,
    Views,
)
from ._numbers import repeats


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


def _source_view(
    flow: FlowRuntime,
    raws: Sequence[RawRecord],
    facets: Mapping[str, set[str]] | None = None,
) -> SourceView:
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
        return flow.described(found).number if found else ""

    def invoice(invoice_id: str) -> Invoice | None:
        """The related invoice, normalized (FX rates and jurisdiction of its payments)."""
        found = resolve("invoice", invoice_id)
        if found is None:
            return None
        key = record_key(connection, "invoice", invoice_id)
        value = flow.normalize(found, record=key, resolve=resolve).value
        return value if isinstance(value, Invoice) else None

    expected: dict[str, Expected] = {}
    unplannable: set[str] = set()
    invoices: dict[str, Invoice] = {}
    numbers: list[NumberSeen] = []
    for raw in raws:
        if raw.error:
            continue
        key = record_key(connection, raw.object, raw.id)
        normalized = flow.normalize(raw.data, record=key, resolve=resolve)
        if raw.object == "invoice":
            if isinstance(normalized.value, Invoice):
                invoices[raw.id] = normalized.value
            seen = _number_seen(flow, key, raw.data, normalized.value, invoice)
            if seen is not None:
                numbers.append(seen)
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
            invoice=invoice,
            payment_object=flow.payment_object,
            posted=lambda record: (facets or {}).get(record, set()),
        )
        plan = plan_entries(normalized.value, flow.mapping, ctx)
        # Warnings (a doubtful VAT id) post with the entry, as the pipeline does.
        if any(p.severity is Severity.ERROR for p in plan.problems):
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
        findings=tuple(found for check in flow.checks for found in check(connection, raws)),
        numbers=tuple(numbers),
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


def collect(flow: FlowRuntime, store: SyncState) -> tuple[Views, dict[str, RawRecord]]:
    """Read the source and the ledger now, and the store's postings and queue."""
    raws = list(flow.source.read(None))
    by_key = {record_key(flow.source.name, r.object, r.id): r for r in raws if not r.error}
    posted = {
        p.idempotency_key: (p.entry_hash, p.target_ref, p.posted_at)
        for p in store.iter_postings(flow=flow.name)
    }
    queued = frozenset(row.record_key for row in store.open_exceptions(flow=flow.name))
    claims = tuple(
        NumberSeen(
            record_key=r.record_key, entity=r.entity, series=r.series, number=r.number, seq=r.seq
        )
        for r in store.invoice_numbers()
    )
    # What each record already posted: a payment that went to `prepayment` before its
    # invoice link existed is expected as a prepayment plus its application, as synced.
    facets: dict[str, set[str]] = {}
    for idem in posted:
        _flow, record, facet = [*idem.split("|"), "", ""][:3]
        facets.setdefault(record, set()).add(facet)
    source = _source_view(flow, raws, facets)
    # An invoice repeating a number another holds fails in the pipeline: not planned here
    # either; the number_duplicate check reports it (once, not also as missing).
    repeated = {seen.record_key for seen, _ in repeats(source.numbers, claims)}
    if repeated:
        source = replace(
            source,
            expected={k: e for k, e in source.expected.items() if e.record_key not in repeated},
            unplannable=source.unplannable | repeated,
        )
    ledger = tuple(_ledger_postings(flow))
    source, deferred = with_recognition(flow, store, source, posted, ledger)
    views = Views(
        flow=flow.name,
        source=source,
        posted=PostedView(postings=posted, queued=queued, numbers=claims),
        ledger=LedgerView(target=flow.target.name, postings=ledger),
        deferred=deferred,
    )
    return views, by_key
