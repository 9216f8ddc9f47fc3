"""The small Connector protocol: a source reads raw records, a target writes journal entries.

Why so small: the engine owns every decision (order, retries, idempotency, audit); a
connector only does I/O. Errors are raised as one of three kinds, by what the engine
does next (the singer-sdk grouping): `RetryableError` (try again later: a locked file,
a 5xx, a timeout), `RecordError` (this record cannot go: a 4xx about it) and
`FatalError` (stop the run: bad credentials, a target that cannot be opened).

Exactly-once on an append-only target: the engine stores the target's `position` (a byte
offset for a file) in the same transaction as the postings it wrote. On the next open,
`recover(position)` scans only what was written after that position and returns the
idempotency keys it finds, each with what that entry does to the books (`Recovered`), so
a write whose commit was lost is recorded, not repeated, and a later change of its source
record is still seen as a conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from billbridge.domain import JournalEntry

__all__ = [
    "CompletingSource",
    "ConnectorError",
    "FatalError",
    "LedgerLeg",
    "LedgerPosting",
    "LedgerReader",
    "MeteredSource",
    "PositionMismatchError",
    "RawRecord",
    "RecordError",
    "RecordState",
    "RecordStates",
    "Recovered",
    "RereadableSource",
    "RetryableError",
    "SettlingSource",
    "SourceConnector",
    "SourceFigures",
    "TargetConnector",
    "WriteBackConnector",
    "WriteBackResult",
    "Written",
]


class ConnectorError(Exception):
    """A connector could not do what was asked."""


class RetryableError(ConnectorError):
    """A passing failure (locked file, timeout, 429, 5xx): try this record again later."""


class RecordError(ConnectorError):
    """This record cannot be read or written as it is (a 4xx about it): queue it."""


class FatalError(ConnectorError):
    """Nothing more can be done in this run (bad credentials, missing target): stop."""


class PositionMismatchError(FatalError):
    """The target does not hold what the state store says was committed to it.

    Raised by `recover` when the committed position cannot be found (a file truncated,
    replaced or edited before that position). The engine adds the way out: restore the
    target, or adopt it as it is now (`billbridge books adopt`), audited.
    """


class RawRecord(NamedTuple):
    """One object as the source system gave it, before normalization.

    `position` is where the reader stands after this record (a line number, a `created`
    timestamp, an event id), stored as the flow's cursor when the record commits.

    A NamedTuple rather than a frozen dataclass: a backfill builds one per line, and a
    frozen dataclass's `__init__` (one `object.__setattr__` per field) cost twice as much.
    Build it with keywords all the same.
    """

    object: str  # customer, invoice, charge, refund, credit_note, payout, …
    id: str
    data: Mapping[str, Any]
    raw: bytes  # the exact bytes read, hashed for the record's version
    position: str
    line: int = 0  # where in the source file, for error messages (0 when not a file)
    error: str = ""  # set when the bytes could not be parsed (the record fails, the run goes on)


@dataclass(frozen=True, slots=True, kw_only=True)
class Written:
    """Where a write landed: `ref` for people (file:line), `position` for recovery."""

    ref: str
    position: int


class SourceConnector(Protocol):
    """`snapshot` is True when every read sees the whole source (an export file): a run
    that finished starts the next one from the beginning, unchanged records are skipped
    by their content hash, and the cursor only resumes a run that was interrupted."""

    name: str
    snapshot: bool

    def read(self, cursor: str | None) -> Iterator[RawRecord]:
        """Records after `cursor` (None: from the start), in the source's order."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFigures:
    """What reading has cost so far, as the source counts it.

    `rate_limit_waits` counts every sleep for the other system's rate limit: pacing
    below it (client-side) and backoffs after an HTTP 429; `rate_limit_wait_seconds`
    is their total. Backoffs after a 5xx or a network error are not rate-limit waits.
    `throttled` counts the 429 answers.
    """

    requests: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    throttled: int = 0

    def since(self, earlier: SourceFigures) -> SourceFigures:
        """The figures of what happened after `earlier` was taken (one run's share)."""
        return SourceFigures(
            requests=self.requests - earlier.requests,
            rate_limit_waits=self.rate_limit_waits - earlier.rate_limit_waits,
            rate_limit_wait_seconds=max(
                0.0, self.rate_limit_wait_seconds - earlier.rate_limit_wait_seconds
            ),
            throttled=self.throttled - earlier.throttled,
        )


@runtime_checkable
class CompletingSource(Protocol):
    """Optional for a source: complete a record that reached billbridge another way.

    Why: a webhook hands over the event's copy of an object, which names what it needs by
    id (a Stripe charge's balance transaction) and stands for objects it implies (a
    `charge.refunded` event carries the charge, not the refund). Only the connector knows
    those fields; the engine asks it before processing, so the record posts instead of
    waiting for something no event will ever bring.
    """

    def complete(self, record: RawRecord) -> list[RawRecord]:
        """`record` with what it needs fetched, followed by the records it implies.

        Raises `RetryableError`/`FatalError` when the source cannot be asked now (the
        record is then processed later, never without what it needs).
        """
        ...


@runtime_checkable
class MeteredSource(Protocol):
    """Optional for a source: counts of its requests and rate-limit waits.

    Why optional: an export file has no rate limit; a live API does, and an operator
    must tell a run that was slowed down on purpose from one that is stuck. The figures
    are cumulative over the source's life; the engine takes one before and one after a
    run, keeps the difference with the run, and shows it in the run summary, `status`
    and `/metrics`.
    """

    def figures(self) -> SourceFigures:
        """The counts so far (cumulative; never reset by a run)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Recovered:
    """A write `recover` found past the committed position, as the target holds it.

    `date` and `legs` (in the order they were written, under the mapping's account names,
    amounts as posted in the entry's own currency) let the engine compute the entry's hash
    again, so a source record that changed after a crash is a `conflict`, exactly as in a
    run that was never interrupted. `version` is the source version the entry carries.
    """

    ref: str
    date: date
    legs: tuple[LedgerLeg, ...]
    version: str = ""


class RecordState(NamedTuple):
    """Where one record stands after a run, as the state store says.

    `outcome`: `posted` (its entries are in the target: `postings` says which, as
    (facet, where)), `nothing` (read, nothing to post), `failed`, `held` or
    `conflict` (an open queue row: `error`, `field`, `hint`, `waiting_on`), or `unread`
    (the flow has no trace of it).
    """

    outcome: str
    postings: tuple[tuple[str, str], ...] = ()
    error: str = ""
    field: str = ""
    hint: str = ""
    waiting_on: str = ""


RecordStates = Callable[[Sequence[str]], Mapping[str, RecordState]]  # record keys -> states


@runtime_checkable
class SettlingSource(Protocol):
    """Optional for a source: told, once a run has committed all it read, how it ended.

    Why: a source that hands over files (an inbox folder) must move each file aside once,
    and only after its records are safely committed, with a report of what became of
    each. The engine calls `settle` after the run's last commit (not after a dry run, a
    stopped run or `sync --since`); `states(keys)` answers from the state store.
    """

    def settle(self, states: RecordStates) -> None:
        """Finish what this pass read (e.g. move files); a `FatalError` is reported."""
        ...


@runtime_checkable
class RereadableSource(Protocol):
    """Optional for a source: read one record again as the source holds it now.

    Why: a record the source could not even parse (a broken line of an export) was never
    stored, so a retry cannot run its snapshot again; after a person fixes the line, the
    retry asks the source for it. `None`: the source no longer has it (the line is gone).
    """

    def read_again(self, obj: str, ident: str) -> RawRecord | None:
        """The record `obj`/`ident` as the source gives it now (an error record if it is
        still unreadable), or None when it is gone."""
        ...


class TargetConnector(Protocol):
    """Optional: a class attribute `all_or_nothing = True` promises that a `write` that
    raises has left nothing of itself (its entries become durable only at `flush`, and a
    failed write is undone). The engine then retries a failed write without first asking
    `find` whether it landed; without it (a ledger behind an API that commits each call),
    every failed write is looked up before it is tried again, so none posts twice."""

    name: str

    def recover(self, committed_position: int) -> Mapping[str, Recovered | str]:
        """Idempotency key → what was found, for every write after `committed_position`.

        Also repairs a torn tail (a write cut short by a crash) so the target is valid.
        A target that cannot read an entry back may give only its ref (a string): the
        engine then records the posting without its hash, and cannot see a later change
        of that record as a conflict.
        """
        ...

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        """Which of these keys the target already holds (look-up before create)."""
        ...

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        """Append the entries of one record's write; durable only after `flush`."""
        ...

    def flush(self) -> int:
        """Make every write so far durable (fsync) and return the position to commit."""
        ...

    def render(self, entries: Sequence[JournalEntry]) -> str:
        """The entries as the target would hold them (for --dry-run and previews)."""
        ...

    def close(self) -> None: ...


# --- reading a ledger back (reconcile) ---------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerLeg:
    """One leg of a posted entry as the ledger holds it now (Decimal, never float)."""

    account: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerPosting:
    """One billbridge entry found in a ledger: its idempotency key, source record, legs.

    `ref` says where a person finds it (file:line); `links` are the entry's links.
    """

    idempotency_key: str
    record_key: str
    ref: str
    date: date
    links: tuple[str, ...] = ()
    legs: tuple[LedgerLeg, ...] = ()


@runtime_checkable
class LedgerReader(Protocol):
    """Optional for a target: every billbridge posting it holds, as it holds it now.

    Why optional and separate from `TargetConnector`: reconcile re-reads the ledger, which
    a person may have edited, instead of trusting the state store; a target that cannot
    be read back is simply not reconciled against.
    """

    def ledger_postings(self) -> Iterator[LedgerPosting]:
        """Each posting carrying a billbridge idempotency key, duplicates included."""
        ...


# --- writing back to a billing system (Stripe) -------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteBackResult:
    """What a write-back did: the object's id, and how (`found` = an ambiguous write that
    had landed; `unchanged` = the object already was as asked, nothing was sent).
    `status`: the object's state in that system after the write, in its words ("" when
    it has none to tell, e.g. a customer)."""

    id: str
    how: Literal["created", "updated", "found", "unchanged"]
    data: Mapping[str, Any]
    status: str = ""


class WriteBackConnector(Protocol):
    """Changes in a billing system on behalf of another system's record.

    Every write takes the idempotency key the engine derived (record key, version,
    attempt); a write whose answer was lost raises `RetryableError` only after the
    connector has looked the object up and not found the change, so a retry never
    duplicates. `RecordError`: the system refused (its message, code, request id).
    """

    def find_customer(self, record_key: str, *, email: Any = None) -> dict[str, Any] | None:
        """The customer whose metadata holds `record_key`, if any."""
        ...

    def push_customer(
        self,
        *,
        record_key: str,
        version: str,
        fields: Mapping[str, Any],
        stripe_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> WriteBackResult: ...

    def mark_invoice_paid(
        self, invoice_id: str, *, record_key: str, version: str, idempotency_key: str | None = None
    ) -> WriteBackResult: ...

    def void_invoice(
        self, invoice_id: str, *, record_key: str, version: str, idempotency_key: str | None = None
    ) -> WriteBackResult: ...
