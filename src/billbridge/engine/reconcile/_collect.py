"""Gathering the three views at the edges: the source and the ledger read now, the store.

Each view is written to the reconcile's scratch file (`_scratch`) as it is read, so a
whole history is compared with bounded memory; the checks read the views back in key
order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from billbridge.connectors.base import FatalError, LedgerPosting, LedgerReader, RawRecord
from billbridge.store.base import SyncState

from ..model import FlowRuntime
from ._deferred import with_recognition
from ._model import LedgerView, NumberSeen, PostedView, SourceView, Views
from ._numbers import repeats
from ._scratch import DiskGroups, DiskMap, Scratch
from ._source import SourceTables, plan_source, read_source
from ._tables import DiskLedger, DiskNumbers, decode_posted, encode_posted


def _ledger_postings(flow: FlowRuntime) -> Iterator[LedgerPosting]:
    target = flow.target
    if not isinstance(target, LedgerReader):
        raise FatalError(
            f"the target {target.name!r} of flow {flow.name!r} cannot be read back, "
            "so it cannot be reconciled"
        )
    prefix = f"{flow.name}|"
    return (p for p in target.ledger_postings() if p.idempotency_key.startswith(prefix))


def _without_repeats(tables: SourceTables, claims: DiskNumbers) -> None:
    """An invoice repeating a number another holds fails in the pipeline: not planned here
    either; the number_duplicate check reports it (once, not also as missing)."""
    holders: DiskMap[str] = DiskMap(claims.scratch, str, str)
    repeated = {seen.record_key for seen, _ in repeats(tables.numbers, claims, holders)}
    if not repeated:
        return
    dropped = [key for key, exp in tables.expected.ordered() if exp.record_key in repeated]
    for key in dropped:
        del tables.expected[key]
    for record in repeated:
        tables.unplannable.add(record)


def collect(
    flow: FlowRuntime, store: SyncState, scratch: Scratch
) -> tuple[Views, Mapping[str, RawRecord]]:
    """Read the source and the ledger now, and the store's postings and queue.

    Returns the views (on disk in `scratch`, valid while it is open) and the records
    read, by record key, for the fixes.
    """
    posted: DiskMap[tuple[str, str, datetime]] = DiskMap(scratch, encode_posted, decode_posted)
    facets: DiskGroups[str] = DiskGroups(scratch, str, str)
    for p in store.iter_postings(flow=flow.name):
        posted[p.idempotency_key] = (p.entry_hash, p.target_ref, p.posted_at)
        _flow, record, facet = [*p.idempotency_key.split("|"), "", ""][:3]
        facets.append(record, facet)
    queued = frozenset(row.record_key for row in store.open_exceptions(flow=flow.name))
    claims = DiskNumbers(scratch)
    for r in store.invoice_numbers():
        claims.append(
            NumberSeen(
                record_key=r.record_key,
                entity=r.entity,
                series=r.series,
                number=r.number,
                seq=r.seq,
            )
        )
    tables = read_source(flow, scratch)
    plan_source(flow, tables, lambda record: facets.get(record, ()))
    _without_repeats(tables, claims)
    ledger = DiskLedger(scratch)
    for posting in _ledger_postings(flow):
        ledger.append(posting)
    deferred = with_recognition(flow, store, tables.expected, tables.unplannable, posted, ledger)
    source = SourceView(
        connection=flow.source.name,
        expected=tables.expected,
        records=tables.present.keys(),
        unplannable=tables.unplannable,
        invoices=tables.invoices,
        findings=tuple(
            found for check in flow.checks for found in check(flow.source.name, tables.records)
        ),
        numbers=tables.numbers,
    )
    views = Views(
        flow=flow.name,
        source=source,
        posted=PostedView(postings=posted, queued=queued, numbers=claims),
        ledger=LedgerView(target=flow.target.name, postings=ledger),
        deferred=deferred,
    )
    return views, tables.by_key
