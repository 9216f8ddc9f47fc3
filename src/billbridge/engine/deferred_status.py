"""The deferred balance against the schedules: what the books hold, what they should hold.

Why a check of its own: a deferred-revenue account is only right if it holds exactly the
part of each deferred line that its service has not earned yet. `deferred_status` reads
billbridge's entries back from the ledger and sets, per entity, account and currency and
per invoice, the books' balance beside the schedules' unrecognized remainder as of the
date recognition has run through (`billbridge recognize --through`). A difference that
is exactly the pieces due and not posted yet (a credit note synced after the last
recognition) is `due`: the next `recognize` posts it. Anything else is a mismatch.

This is also the oracle's check "deferred balance equals the unrecognized remainder":
`deferred_status(flow, store, ledger).ok` (and, without any I/O,
`mapping.recognition.unrecognized`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from billbridge.connectors.base import LedgerPosting, LedgerReader
from billbridge.mapping.entities import prefixed
from billbridge.mapping.recognition import (
    DeferredLeg,
    RecognitionContext,
    plan_recognition,
    unrecognized,
)
from billbridge.mapping.rules import Planned
from billbridge.store.base import SyncState

from .deferred import (
    RECOGNITION,
    Schedules,
    groups,
    recognition_key,
    recognized_through,
    store_lookups,
)
from .model import FlowRuntime

__all__ = [
    "DeferredBalance",
    "DeferredStatus",
    "GroupBalance",
    "deferral_accounts",
    "deferred_status",
    "flow_deferred_status",
]

_CHUNK = 500
Key = tuple[str, str]  # (account, currency)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeferredBalance:
    """One deferred account in one currency: the books beside the schedules.

    `due` is what the pieces due by the recognized-through date and not posted yet
    would change (so `books - schedules == due` while only recognition is pending).
    """

    entity: str
    account: str
    currency: str
    books: Decimal
    schedules: Decimal
    due: Decimal = Decimal(0)

    @property
    def difference(self) -> Decimal:
        return self.books - self.schedules

    @property
    def explained(self) -> bool:
        return self.difference == self.due

    def as_json(self) -> dict[str, str]:
        return {
            "entity": self.entity,
            "account": self.account,
            "currency": self.currency,
            "books": f"{self.books:f}",
            "schedules": f"{self.schedules:f}",
            "difference": f"{self.difference:f}",
            "due": f"{self.due:f}",
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupBalance:
    """One invoice whose deferred balance in the books is not its schedule's remainder."""

    record: str  # its recognition record
    invoice: str
    balance: DeferredBalance


@dataclass(frozen=True, slots=True, kw_only=True)
class DeferredStatus:
    flow: str
    through: date | None  # the date recognition has run through (None: never)
    balances: tuple[DeferredBalance, ...] = ()
    differing: tuple[GroupBalance, ...] = ()  # invoices whose books differ from the schedule
    posted: tuple[Planned, ...] = ()  # recognition entries the store holds as posted
    failing: tuple[str, ...] = ()  # recognition records whose schedule cannot be known

    @property
    def ok(self) -> bool:
        """The books hold exactly the schedules' remainder (nothing due, nothing else)."""
        return all(not b.difference for b in self.balances) and not self.failing

    def as_json(self) -> dict[str, Any]:
        return {
            "recognized_through": self.through.isoformat() if self.through else None,
            "ok": self.ok,
            "balances": [b.as_json() for b in self.balances],
            "differing": [
                {"record": g.record, "invoice": g.invoice, **g.balance.as_json()}
                for g in self.differing
            ],
            "failing": list(self.failing),
        }


def deferral_accounts(flow: FlowRuntime, legs: Iterable[DeferredLeg]) -> dict[str, str]:
    """Deferred-revenue account -> entity: the mapping's (each entity's), and every leg's."""
    mapping = flow.mapping
    accounts: dict[str, str] = {}
    settings = mapping.deferral
    if settings is not None:
        if mapping.entities:
            for entity in mapping.entities:
                accounts[prefixed(settings.account, entity.prefix)] = entity.name
        else:
            accounts[settings.account] = mapping.entity
    accounts.update((leg.account, leg.entity) for leg in legs)
    return accounts


@dataclass(slots=True)
class _Group:
    record: str
    invoice: str
    legs: tuple[DeferredLeg, ...] = ()
    due: list[Planned] = field(default_factory=list)


def deferred_status(
    flow: FlowRuntime, store: SyncState, ledger: Iterable[LedgerPosting]
) -> DeferredStatus:
    """The books' deferred balances beside the schedules (see the module docstring)."""
    through = recognized_through(store, flow.name)
    found = _read_schedules(flow, store, through)
    legs = [leg for g in found.groups for leg in g.legs]
    accounts = deferral_accounts(flow, legs)
    books = _books(flow, ledger, accounts, found.owner)
    view = _view(books, legs, through)
    totals: dict[Key, list[Decimal]] = {}
    differing: list[GroupBalance] = []
    for one in found.groups:
        held = books.pop(one.record, {})
        remainder = unrecognized(one.legs, through=through, view=view)
        expected = {(a, c): v for (_, a, c), v in remainder.items()}
        due = _due(one.due, view)
        for key in sorted(set(held) | set(expected) | set(due)):
            row = _row(accounts, key, held.get(key), expected.get(key), due.get(key))
            _add(totals, key, row)
            if row.difference:
                differing.append(GroupBalance(record=one.record, invoice=one.invoice, balance=row))
    for record, held in books.items():  # deferred amounts of records no schedule explains
        for key, amount in held.items():
            row = _row(accounts, key, amount, None, None)
            _add(totals, key, row)
            if row.difference:
                differing.append(
                    GroupBalance(record=record, invoice=record.rsplit(":", 1)[-1], balance=row)
                )
    return DeferredStatus(
        flow=flow.name,
        through=through,
        balances=tuple(_row(accounts, k, *sums) for k, sums in sorted(totals.items())),
        differing=tuple(differing),
        posted=tuple(found.posted),
        failing=tuple(found.failing),
    )


def flow_deferred_status(flow: FlowRuntime, store: SyncState) -> DeferredStatus | None:
    """`deferred_status` read from the flow's own ledger, for a flow that defers revenue
    (or recognized some before its mapping changed); None for any other flow, or one whose
    target cannot be read back (an export file)."""
    if not isinstance(flow.target, LedgerReader):
        return None
    if flow.mapping.deferral is None:
        marker = f"{flow.source.name}:{RECOGNITION}:"
        if not any(p.record_key.startswith(marker) for p in store.iter_postings(flow=flow.name)):
            return None
    return deferred_status(flow, store, flow.target.ledger_postings())


@dataclass(slots=True)
class _Found:
    groups: list[_Group] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)  # record key -> recognition record
    posted: list[Planned] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)


def _read_schedules(flow: FlowRuntime, store: SyncState, through: date | None) -> _Found:
    """Every invoice's schedule, its posted pieces and its due ones, read from the store."""
    resolve, invoice, number = store_lookups(flow, store)
    planner = Schedules(flow, store, resolve=resolve, invoice=invoice, invoice_number=number)
    todo = [g for g in groups(store, flow) if flow.mapping.deferral or g.recognized]
    found = _Found()
    for start in range(0, len(todo), _CHUNK):
        chunk = todo[start : start + _CHUNK]
        schedules = list(planner.schedules(chunk))
        facets = store.posted_facets([s.key for s in schedules], flow=flow.name)
        for group in chunk:
            key = recognition_key(flow.source.name, group.invoice)
            found.owner.update(dict.fromkeys(group.documents, key))
            found.owner[key] = key
        for schedule in schedules:
            if schedule.problems:
                found.failing.append(schedule.key)
                continue
            done = facets.get(schedule.key, {})
            ctx = RecognitionContext(
                flow=flow.name, record=schedule.key, version="", link=schedule.invoice
            )
            every = plan_recognition(schedule.legs, ctx, through=date.max, posted=done)
            found.posted.extend(p for p in every if p.facet in done)
            due = plan_recognition(schedule.legs, ctx, through=through or date.min, posted=done)
            found.groups.append(
                _Group(
                    record=schedule.key,
                    invoice=schedule.invoice,
                    legs=schedule.legs,
                    due=[p for p in due if p.facet not in done],
                )
            )
    return found


def _row(
    accounts: Mapping[str, str],
    key: Key,
    books: Decimal | None,
    schedules: Decimal | None = None,
    due: Decimal | None = None,
) -> DeferredBalance:
    account, currency = key
    return DeferredBalance(
        entity=accounts.get(account, ""),
        account=account,
        currency=currency,
        books=Decimal(0) if books is None else books,
        schedules=Decimal(0) if schedules is None else schedules,
        due=Decimal(0) if due is None else due,
    )


def _add(totals: dict[Key, list[Decimal]], key: Key, row: DeferredBalance) -> None:
    sums = totals.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
    sums[0] += row.books
    sums[1] += row.schedules
    sums[2] += row.due


def _books(
    flow: FlowRuntime,
    ledger: Iterable[LedgerPosting],
    accounts: Mapping[str, str],
    owner: Mapping[str, str],
) -> dict[str, dict[Key, Decimal]]:
    """Recognition record -> (account, currency) -> what billbridge's entries hold there."""
    prefix = f"{flow.name}|"
    held: dict[str, dict[Key, Decimal]] = {}
    for posting in ledger:
        if not posting.idempotency_key.startswith(prefix):
            continue
        record = posting.record_key or posting.idempotency_key.split("|")[1]
        group = owner.get(record, record)
        for leg in posting.legs:
            if leg.account in accounts:
                sums = held.setdefault(group, {})
                key = (leg.account, leg.currency)
                sums[key] = sums.get(key, Decimal(0)) + leg.amount
    return held


def _due(pieces: Sequence[Planned], view: Literal["books", "units"]) -> dict[Key, Decimal]:
    """What the unposted due pieces would add to the deferred accounts, negated: the
    books hold that much more (a credit balance, less negative) until they are posted."""
    sums: dict[Key, Decimal] = {}
    for item in pieces:
        deferred = item.entry.postings[1]
        shown = deferred.original if view == "units" and deferred.original else deferred.amount
        key = (deferred.account, shown.currency)
        sums[key] = sums.get(key, Decimal(0)) - shown.amount
    return sums


def _view(
    books: Mapping[str, Mapping[Key, Decimal]],
    legs: Sequence[DeferredLeg],
    through: date | None,
) -> Literal["books", "units"]:
    """Beancount holds a converted leg in its transaction currency (`-1200.00 USD @@
    -1080.00 EUR`), GnuCash and the SQL ledger in the books' currency: the currencies the
    ledger holds say which of the two the schedules are compared in."""
    if not any(leg.original is not None for leg in legs):
        return "books"
    held = {c for sums in books.values() for (_, c), v in sums.items() if v}
    units = {c for (_, _, c) in unrecognized(legs, through=through, view="units")}
    converted = {c for (_, _, c) in unrecognized(legs, through=through, view="books")}
    return "units" if held & (units - converted) else "books"
