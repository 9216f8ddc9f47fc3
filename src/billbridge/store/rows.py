"""The state store's rows: plain frozen values the engine hands in and gets back.

Why batches: the path of one record ends in one commit of its outcome, xref, audit row
and cursor. Committing one transaction per record caps a backfill at a few hundred
records per second, so the engine gathers many records' effects into a `Batch` and the
store writes it in one transaction (each record still its own outcome). Either the
whole batch is in the store or none of it is; the target's idempotency keys cover the
writes whose commit was lost.

Rows are plain frozen values; times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from billbridge.roles import Role

from ._monitor_rows import (
    DiscrepancyRow,
    InboxCounts,
    IncidentRow,
    MonitorCounts,
    RunCost,
    RunFigures,
)

__all__ = [
    "AuditEvent",
    "AuditHead",
    "AuditRow",
    "AuditVerdict",
    "Batch",
    "CursorRow",
    "DiscrepancyRow",
    "ExceptionKind",
    "ExceptionRow",
    "InboxCounts",
    "InboxRow",
    "InboxStatus",
    "IncidentRow",
    "MonitorCounts",
    "OutcomeName",
    "OutcomeRow",
    "PostingRow",
    "RecordRow",
    "Role",
    "RunCost",
    "RunFigures",
    "RunOwner",
    "RunRow",
    "StoreError",
    "UserRow",
    "WriteBackRow",
    "WriteBackStatus",
]

OutcomeName = Literal["synced", "unchanged", "failed", "held", "conflict"]
ExceptionKind = Literal["failed", "held", "conflict"]


InboxStatus = Literal["pending", "processed", "stale"]
WriteBackStatus = Literal["pending", "done", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteBackRow:
    """One write-back to a billing system (store/_writebacks.py), one row per request.

    A request is (connection, action, record key, version). `pending` means it was sent,
    or about to be, and its result is unknown: the next attempt looks the object up before
    sending again, with the same idempotency key. `failed` means the system refused it
    (nothing changed there); the next attempt is `attempt + 1`, with a new key, since
    Stripe replays a key's first answer, refusal included, for 24 hours.
    `request` is the JSON that was asked for (a customer's fields), never a secret.
    """

    connection: str
    action: str  # push-customer, mark-paid, void
    record_key: str
    version: str
    idempotency_key: str
    status: WriteBackStatus
    actor: str
    attempt: int = 1
    object_id: str = ""
    how: str = ""
    error: str = ""
    request: bytes = b"{}"
    first_at: datetime | None = None
    last_at: datetime | None = None
    id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxRow:
    """One verified Stripe webhook event in the inbox (see store/_inbox.py)."""

    event_id: str
    connection: str
    type: str
    object_key: str  # connection:object:id of the event's data.object
    created: int  # the event's Unix time: what orders events about one object
    payload: bytes
    status: InboxStatus
    flow: str = ""  # the flow this row is for; '' for rows stored before migration 0007
    received_at: datetime | None = None  # when the receiver stored it


class StoreError(RuntimeError):
    """The state store could not do what was asked (connection lost, schema too new, …)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordRow:
    """The last version of a source record billbridge saw (snapshot = raw source JSON)."""

    key: str  # connection:object:id
    connection: str
    object: str
    source_id: str
    version: str  # content hash of the snapshot
    snapshot: bytes
    seen_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PostingRow:
    """One write to a target (the xref of a record into a target system).

    `idempotency_key` is unique across the store; `facet` names which effect of the record
    it is (`issue`, `void`, `payment`, …) so a new version never posts an old effect twice.
    """

    flow: str
    record_key: str
    facet: str
    idempotency_key: str
    version: str
    entry_hash: str
    target: str  # target connection name
    target_ref: str  # where it is in the target (file:offset, row id, guid)
    run_id: int
    posted_at: datetime
    summary: str = ""  # one line a person can read, e.g. "Invoice HB-0042 — Globex, 119.00 EUR"
    link: str = ""  # the document this posting belongs to (an invoice id), for trace
    lines: str = ""  # the entry's lines as posted: "account amount currency" per line
    mapping_version: str = ""  # the mapping version that planned it ("" before 0080)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeRow:
    """What happened to one record in one run (an attempt)."""

    run_id: int
    flow: str
    record_key: str
    version: str
    outcome: OutcomeName
    at: datetime
    retryable: bool = False
    error: str = ""
    field: str = ""
    hint: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExceptionRow:
    """An open problem in the queue; at most one open row per (flow, record_key)."""

    flow: str
    record_key: str
    version: str
    kind: ExceptionKind
    error: str
    at: datetime
    field: str = ""
    hint: str = ""
    retryable: bool = False
    waiting_on: str = ""  # a record key this one waits for (kind "held", or a timed-out hold)
    next_try_at: datetime | None = None
    # since when it waits for `waiting_on`: the store keeps the first value while the row
    # waits for the same record (so the hold timeout counts from the first hold)
    held_since: datetime | None = None
    # filled in when read back from the store:
    id: int = 0
    attempts: int = 1
    first_seen: datetime | None = None
    last_tried: datetime | None = None
    status: Literal["open", "closed", "dismissed"] = "open"
    resolution: str = ""
    closed_at: datetime | None = None  # read back only by `exceptions_since`


@dataclass(frozen=True, slots=True, kw_only=True)
class CursorRow:
    """Where a reader (or an append-only target) stands; `position` is e.g. a byte offset."""

    flow: str
    name: str
    value: str
    position: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """A change to record in the audit log; the store adds sequence, time and hashes."""

    actor: str  # a user name, "token:<name>" or "system"
    action: str  # posted, failed, held, replayed, retried, dismissed, config, …
    record_key: str = ""
    diff: Mapping[str, Any] = field(default_factory=dict)  # field -> [before, after]
    run_id: int | None = None
    mapping_version: str = ""
    at: datetime | None = None  # defaults to now (UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRow:
    seq: int
    at: datetime
    actor: str
    action: str
    record_key: str
    diff: Mapping[str, Any]
    run_id: int | None
    mapping_version: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditHead:
    """The newest row of the audit chain: what an anchor (a witness outside) records."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditVerdict:
    ok: bool
    rows: int
    first_bad: int | None  # sequence number of the first row whose hash does not verify
    # Checked against anchors (the chain's head as written outside the store):
    anchored: int | None = None  # the newest anchor's seq, when anchors were given
    missing: tuple[int, int] | None = None  # seqs (first, last) an anchor saw, now gone
    # (first, last): the chain differs from the anchor at `last`, and matched every
    # anchor before `first`; one or more rows in between were rewritten
    rewritten: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOwner:
    """The process running a run: its host, its pid, and a token unique to the run there.

    Why all three: a run left `running` by a killed process must be told from one that is
    still going. On the same host a dead pid says it; in the same process (threads of
    `serve`) only the token tells one run from another; on another host only the run's
    heartbeat can (see engine/liveness.py).
    """

    host: str
    pid: int
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRow:
    id: int
    flow: str
    kind: str  # live, backfill, replay, retry, webhook, reconcile, dry-run
    actor: str
    started_at: datetime
    finished_at: datetime | None = None
    # running; finished; stopped (a fatal connector error, committed work kept);
    # failed (ended by an exception, `error` says which); crashed (its process died)
    status: str = "running"
    counts: Mapping[str, int] = field(default_factory=dict)
    mapping_version: str = ""
    owner: RunOwner | None = None  # None for runs from before migration 0020
    heartbeat_at: datetime | None = None
    error: str = ""  # why a failed or crashed run ended; never personal data


@dataclass(slots=True, kw_only=True)
class Batch:
    """Everything one commit writes; the engine fills it, `Store.commit` writes it at once.

    `closed_exceptions` holds (flow, record_key, resolution) of queue rows to close;
    `flow_versions` holds (flow, record_key, version): the version each flow processed.
    """

    records: list[RecordRow] = field(default_factory=list)
    postings: list[PostingRow] = field(default_factory=list)
    outcomes: list[OutcomeRow] = field(default_factory=list)
    exceptions: list[ExceptionRow] = field(default_factory=list)
    closed_exceptions: list[tuple[str, str, str]] = field(default_factory=list)
    cursors: list[CursorRow] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    flow_versions: list[tuple[str, str, str]] = field(default_factory=list)
    # (entity, series, number, seq, record key, first seen): numbers first seen in this batch
    invoice_numbers: list[tuple[str, str, str, int | None, str, datetime]] = field(
        default_factory=list
    )
    writebacks: list[WriteBackRow] = field(default_factory=list)
    # (named query, parameters): rows of other parts of the store written with the batch
    # (two-way links, field bases, conflicts: store/_twoway.py), in this order
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.outcomes)

    def is_empty(self) -> bool:
        return not (
            self.records
            or self.postings
            or self.outcomes
            or self.exceptions
            or self.closed_exceptions
            or self.cursors
            or self.audit
            or self.flow_versions
            or self.invoice_numbers
            or self.writebacks
            or self.statements
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRow:
    """Someone allowed into `billbridge serve`; the hash is argon2id, never a password."""

    name: str
    role: Role
    password_hash: str
    created_at: datetime
