"""The values reconcile compares and reports: three views of a flow, and a discrepancy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

from billbridge.connectors.base import LedgerLeg, LedgerPosting
from billbridge.connectors.source import SourceFinding
from billbridge.domain import Invoice

if TYPE_CHECKING:
    from ..deferred_status import DeferredStatus

KINDS: Final[tuple[str, ...]] = (
    "missing_in_target",
    "orphan_in_target",
    "status_mismatch",
    "amount_mismatch",
    "currency_mismatch",
    "duplicate_posting",
    "payout_mismatch",
    "number_duplicate",
    "number_gap",
)
# post: run the record through the pipeline; reverse: post a reversal entry; queue: a person;
# none: informational (reported, never fixed or queued, not counted as unowned)
Fix = Literal["post", "reverse", "queue", "none"]
_REVERSAL: Final = "reversal-"


def reversal_key(idempotency_key: str, n: int) -> str:
    """The key of the n-th reversal of a duplicated posting (`flow|record|reversal-facet-n`)."""
    flow, record, facet = split_key(idempotency_key)
    return f"{flow}|{record}|{_REVERSAL}{facet}-{n}"


def split_key(idempotency_key: str) -> tuple[str, str, str]:
    flow, record, facet = [*idempotency_key.split("|", 2), "", ""][:3]
    return flow, record, facet


def reversed_of(idempotency_key: str) -> str | None:
    """The key a reversal key reverses, or None when it is not a reversal."""
    flow, record, facet = split_key(idempotency_key)
    if not facet.startswith(_REVERSAL):
        return None
    base = facet.removeprefix(_REVERSAL).rsplit("-", 1)[0]
    return f"{flow}|{record}|{base}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expected:
    """An entry the source's current record gives under the current mapping."""

    idempotency_key: str
    record_key: str
    facet: str
    link: str
    legs: tuple[LedgerLeg, ...]
    entry_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberSeen:
    """An invoice number carried by a record: from the source now, or claimed in the store.

    `entity` is "" when the source's invoice cannot be routed to one (it fails on its own).
    """

    record_key: str
    entity: str
    series: str
    number: str
    seq: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceView:
    """What the source says now: expected entries, records present, invoices (canonical).

    `findings` are what the source's own checks (its model's `checks`) found in the
    records read now, e.g. Stripe's payouts that do not add up.

    The collections are plain dicts and sets when built by hand, and sorted tables on
    disk when `collect` builds them (`_scratch`): read them as mappings and sets, in
    key order through `_scratch.ordered`, and iterate `numbers` as often as needed.
    """

    connection: str
    expected: Mapping[str, Expected]
    records: AbstractSet[str]
    unplannable: AbstractSet[str] = frozenset()  # records that fail or wait: the queue's job
    invoices: Mapping[str, Invoice] = field(default_factory=dict)  # id -> normalized invoice
    findings: tuple[SourceFinding, ...] = ()
    numbers: Iterable[NumberSeen] = ()  # non-draft invoices' numbers, in source order


@dataclass(frozen=True, slots=True, kw_only=True)
class PostedView:
    """What billbridge recorded as posted, and which records already wait in the queue."""

    postings: Mapping[str, tuple[str, str, datetime]]  # idem -> (entry hash, ref, posted at)
    queued: AbstractSet[str]  # record keys with an open queue row
    numbers: Iterable[NumberSeen] = ()  # every number claimed in the store (first holder)


@runtime_checkable
class Grouped(Protocol):
    """Postings kept grouped by idempotency key already (on disk, in key order)."""

    @property
    def groups(self) -> Mapping[str, tuple[LedgerPosting, ...]]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerView:
    """The books' postings of one flow, in the order the target gives them."""

    target: str
    postings: Iterable[LedgerPosting]

    def groups(self) -> Mapping[str, tuple[LedgerPosting, ...]]:
        """Idempotency key → its postings, in the books' order (a key twice: a duplicate)."""
        if isinstance(self.postings, Grouped):
            return self.postings.groups
        grouped: dict[str, list[LedgerPosting]] = {}
        for posting in self.postings:
            grouped.setdefault(posting.idempotency_key, []).append(posting)
        return {key: tuple(group) for key, group in grouped.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Views:
    flow: str
    source: SourceView
    posted: PostedView
    ledger: LedgerView
    deferred: DeferredStatus | None = None  # deferred revenue vs schedules (engine/deferred_status)


@dataclass(frozen=True, slots=True, kw_only=True)
class Discrepancy:
    """One difference between systems: what, where in each system, both values, who fixes it.

    `difference` is in minor units of `currency` (source minus ledger) for amount kinds.
    `queued` is True when the record already has an open row in the exception queue.
    `since` is when reconcile first saw it (from the store), else when the entry posted.
    `extra` holds a kind's own facts, shown as `extra` in `--json` (a number gap's numbers).
    """

    kind: str
    flow: str
    record_key: str
    idempotency_key: str
    source_ref: str
    target_ref: str
    source_value: str
    target_value: str
    owner: str
    fix: Fix
    detail: str
    hint: str
    difference: int | None = None
    currency: str = ""
    since: datetime | None = None
    queued: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "flow": self.flow,
            "record_key": self.record_key,
            "idempotency_key": self.idempotency_key,
            "source_ref": self.source_ref,
            "target_ref": self.target_ref,
            "source_value": self.source_value,
            "target_value": self.target_value,
            "owner": self.owner,
            "fix": self.fix,
            "detail": self.detail,
            "hint": self.hint,
            "queued": self.queued,
        }
        if self.difference is not None:
            data["difference_minor"] = self.difference
            data["currency"] = self.currency
        if self.since is not None:
            data["since"] = self.since.isoformat()
        if self.extra:
            data["extra"] = dict(self.extra)
        return data
