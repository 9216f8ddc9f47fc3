"""Deferred revenue schedules as the store knows them: posted documents and their deferred legs.

Why from what was posted, checked against the mapping: recognition must move exactly the
deferred parts that are in the books. The store holds each document's snapshot (invoice,
credit note) and the hash of each entry posted for it; planning the snapshot again with
the current mapping gives the entry back, and the hash says whether it is the same entry.
If the mapping has changed since in a way that changes that entry, billbridge cannot
tell which deferred parts the books hold, so the invoice's recognition fails with a
reason instead of guessing.

Each invoice with deferred lines has one recognition record,
`<connection>:recognition:<invoice id>`, whose facets are its pieces (mapping/recognition.py).

The books beside the schedules (the deferred balance against the unrecognized
remainder) are in engine/deferred_status.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from billbridge.domain import CreditNote, Invoice, Problem
from billbridge.mapping.deferral import LINE
from billbridge.mapping.recognition import DeferredLeg, Document, deferred_legs
from billbridge.mapping.rules import Context, plan_entries
from billbridge.store.base import Records, SyncState

from .book_checks import BookChecks
from .entries import entry_hash
from .model import FlowRuntime

__all__ = [
    "CURSOR",
    "DOCUMENT_FACETS",
    "RECOGNITION",
    "Group",
    "Schedule",
    "Schedules",
    "groups",
    "recognition_key",
    "recognized_through",
    "store_lookups",
]

RECOGNITION = "recognition"  # the object of recognition records
CURSOR = "recognized"  # the flow's cursor: the date recognition has run through
DOCUMENT_FACETS = frozenset({"issue", "void", "credit", "credit-void"})

Resolve = Callable[[str, str], Mapping[str, Any] | None]


def recognition_key(connection: str, invoice_id: str) -> str:
    return f"{connection}:{RECOGNITION}:{invoice_id}"


def recognized_through(store: Records, flow: str) -> date | None:
    """The latest `--through` recognition has run with for `flow`, if any."""
    cursor = store.get_cursor(flow, CURSOR)
    if cursor is None or not cursor.value:
        return None
    return date.fromisoformat(cursor.value)


@dataclass(slots=True)
class Group:
    """One invoice's posted documents: record key -> facet -> entry hash."""

    invoice: str
    documents: dict[str, dict[str, str]] = field(default_factory=dict)
    recognized: bool = False  # its recognition record has postings


def groups(store: SyncState, flow: FlowRuntime) -> list[Group]:
    """Every invoice of `flow` with a posted document, in the order they were first posted.

    A posting recovered from the ledger after a crash has no link: an invoice's is its
    own id, a credit note's is read from its snapshot.
    """
    found: dict[str, Group] = {}
    connection = flow.source.name
    unlinked: list[tuple[str, str, str]] = []  # credit notes: (record key, facet, hash)
    for posting in store.iter_postings(flow=flow.name):
        conn, _, rest = posting.record_key.partition(":")
        obj, _, ident = rest.partition(":")
        if conn != connection:
            continue
        if obj == RECOGNITION:
            found.setdefault(ident, Group(invoice=ident)).recognized = True
            continue
        if posting.facet not in DOCUMENT_FACETS or obj not in {"invoice", "credit_note"}:
            continue
        link = posting.link or (ident if obj == "invoice" else "")
        if not link:
            unlinked.append((posting.record_key, posting.facet, posting.entry_hash))
            continue
        group = found.setdefault(link, Group(invoice=link))
        group.documents.setdefault(posting.record_key, {})[posting.facet] = posting.entry_hash
    if unlinked:
        resolve = store_lookups(flow, store)[0]
        rows = store.get_records(sorted({key for key, _, _ in unlinked}))
        for key, facet, digest in unlinked:
            row = rows.get(key)
            value = (
                None
                if row is None
                else flow.normalize(orjson.loads(row.snapshot), record=key, resolve=resolve).value
            )
            if isinstance(value, CreditNote):
                group = found.setdefault(value.invoice, Group(invoice=value.invoice))
                group.documents.setdefault(key, {})[facet] = digest
    return list(found.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """An invoice's recognition record: its deferred legs, or why they cannot be known."""

    key: str
    invoice: str
    version: str
    payee: str = ""
    legs: tuple[DeferredLeg, ...] = ()
    problems: tuple[Problem, ...] = ()


class Schedules:
    """Reads groups' documents from the store and plans them again with the flow's mapping.

    `resolve`, `invoice` and `invoice_number` are the pipeline's look-ups when a run
    plans (so its caches serve both), or plain store reads for a report.
    """

    def __init__(
        self,
        flow: FlowRuntime,
        store: SyncState,
        *,
        resolve: Resolve,
        invoice: Callable[[str], Invoice | None],
        invoice_number: Callable[[str], str],
    ) -> None:
        self.flow = flow
        self.store = store
        self.resolve = resolve
        self.invoice = invoice
        self.invoice_number = invoice_number

    def schedules(self, chunk: Sequence[Group]) -> Iterator[Schedule]:
        """Each group's schedule, or nothing for a group with no deferred line at all."""
        keys = [key for group in chunk for key in group.documents]
        rows = self.store.get_records(keys) if keys else {}
        for group in chunk:
            found = self._schedule(group, rows)
            if found is not None:
                yield found

    def _schedule(self, group: Group, rows: Mapping[str, Any]) -> Schedule | None:
        connection = self.flow.source.name
        key = recognition_key(connection, group.invoice)
        number = self.invoice_number(group.invoice) or group.invoice
        documents: list[Document] = []
        problems: list[Problem] = []
        versions: list[str] = []
        deferring = group.recognized
        payee = ""
        for record, facets in sorted(group.documents.items()):
            row = rows.get(record)
            if row is None:
                problems.append(self._problem(key, record, "its snapshot is not in the store"))
                continue
            version = hashlib.blake2b(row.snapshot, digest_size=10).hexdigest()
            versions.append(f"{record}={version}")
            normalized = self.flow.normalize(
                orjson.loads(row.snapshot), record=record, resolve=self.resolve
            )
            value = normalized.value
            if not isinstance(value, Invoice | CreditNote):
                problems.append(self._problem(key, record, "it no longer normalizes"))
                continue
            ctx = Context(
                flow=self.flow.name,
                connection=connection,
                record=record,
                version=version,
                invoice_number=self.invoice_number,
                invoice=self.invoice,
            )
            plan = plan_entries(value, self.flow.mapping, ctx)
            planned = {p.facet: p.entry for p in plan.entries}
            deferring = deferring or any(
                any(k == LINE for p in e.postings for k, _ in p.meta) for e in planned.values()
            )
            if isinstance(value, Invoice):
                payee = value.customer_name
            for facet, digest in sorted(facets.items()):
                entry = planned.get(facet)
                if entry is None or (digest and entry_hash(entry) != digest):
                    problems.append(
                        self._problem(
                            key,
                            record,
                            f"its {facet!r} entry as posted is not what mapping "
                            f"{self.flow.mapping.version} gives now (the mapping changed since)",
                        )
                    )
                    continue
                documents.append(
                    Document(
                        name=_name(value, facet),
                        label=_label(value, facet, number),
                        entry=entry,
                    )
                )
        if not deferring:
            return None
        version = hashlib.blake2b("|".join(versions).encode(), digest_size=10).hexdigest()
        if problems:
            return Schedule(
                key=key, invoice=group.invoice, version=version, problems=tuple(problems)
            )
        return Schedule(
            key=key,
            invoice=group.invoice,
            version=version,
            payee=payee,
            legs=deferred_legs(documents),
        )

    def _problem(self, key: str, record: str, why: str) -> Problem:
        return Problem(
            record=key,
            field="deferral",
            message=f"the deferred revenue of {record} cannot be recognized: {why}",
            hint=f"restore the mapping that posted {record} (or recognize its deferred revenue "
            f"by hand), then dismiss this row; `billbridge trace {record}` shows what was posted",
        )


def _name(value: Invoice | CreditNote, facet: str) -> str:
    if isinstance(value, Invoice):
        return facet  # issue, void
    return value.id if facet == "credit" else f"{value.id}-void"


def _label(value: Invoice | CreditNote, facet: str, number: str) -> str:
    if isinstance(value, Invoice):
        return f"invoice {number}" if facet == "issue" else f"void of invoice {number}"
    note = value.number or value.id
    if facet == "credit":
        return f"credit note {note} on {number}"
    return f"void of credit note {note} on {number}"


def store_lookups(
    flow: FlowRuntime, store: SyncState
) -> tuple[Resolve, Callable[[str], Invoice | None], Callable[[str], str]]:
    """`resolve`, `invoice` and `invoice_number` read from the store (for a report)."""
    cache: dict[str, Mapping[str, Any] | None] = {}
    connection = flow.source.name

    def resolve(obj: str, ident: str) -> Mapping[str, Any] | None:
        key = f"{connection}:{obj}:{ident}"
        if key not in cache:
            if len(cache) > 20_000:
                cache.clear()
            row = store.get_record(key)
            cache[key] = None if row is None else orjson.loads(row.snapshot)
        return cache[key]

    def invoice_number(ident: str) -> str:
        data = resolve("invoice", ident)
        return flow.described(data).number if data else ""

    books = BookChecks(flow=flow, store=store, resolve=resolve, dry_run=True)
    return resolve, books.invoice, invoice_number
