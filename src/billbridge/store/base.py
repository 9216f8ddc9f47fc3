"""The state-store contract: one schema, two backends (SQLite embedded, PostgreSQL).

Why batches: the path of one record ends in one commit of its outcome, xref, audit row
and cursor. Committing one transaction per record caps a backfill at a few hundred
records per second, so the engine gathers many records' effects into a `Batch` and the
store writes it in one transaction (each record still its own outcome). Either the
whole batch is in the store or none of it is; the target's idempotency keys cover the
writes whose commit was lost.

Rows are plain frozen values; times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from billbridge.roles import Role

from ._monitor_rows import (
    DiscrepancyRow,
    InboxCounts,
    IncidentRow,
    MonitorCounts,
    RunCost,
    RunFigures,
)

if TYPE_CHECKING:
    from ._mappings import (
        MappingTestRow,
        MappingVersionRow,
        PromotionKind,
        PromotionRow,
        RecordDecisionRow,
    )
    from ._numbers import InvoiceNumberRow, NumberWindow
    from ._users import TokenRow

__all__ = [
    "AuditEvent",
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
    "OutcomeRow",
    "PostingRow",
    "RecordRow",
    "Role",
    "RunCost",
    "RunFigures",
    "RunRow",
    "Store",
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
    waiting_on: str = ""  # a record key this one waits for (kind "held")
    next_try_at: datetime | None = None
    # filled in when read back from the store:
    id: int = 0
    attempts: int = 1
    first_seen: datetime | None = None
    last_tried: datetime | None = None
    status: Literal["open", "closed", "dismissed"] = "open"
    resolution: str = ""


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
class AuditVerdict:
    ok: bool
    rows: int
    first_bad: int | None  # sequence number of the first row whose hash does not verify


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRow:
    id: int
    flow: str
    kind: str  # live, backfill, replay, retry, dry-run
    actor: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"  # running, finished, crashed
    counts: Mapping[str, int] = field(default_factory=dict)
    mapping_version: str = ""


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
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRow:
    """Someone allowed into `billbridge serve`; the hash is argon2id, never a password."""

    name: str
    role: Role
    password_hash: str
    created_at: datetime


class Store(Protocol):
    """What the engine, CLI and service need from the state store (both backends)."""

    @property
    def dialect(self) -> str: ...  # "sqlite" or "postgres"

    def close(self) -> None: ...

    # --- runs
    def start_run(
        self, *, flow: str, kind: str, actor: str, mapping_version: str = ""
    ) -> RunRow: ...
    def finish_run(
        self,
        run_id: int,
        *,
        counts: Mapping[str, int],
        status: str,
        figures: RunFigures | None = None,
    ) -> None:
        """Close a run; `figures` (when its source counted any) are kept with it."""
        ...

    def run_figures(self, run_id: int) -> RunFigures | None: ...
    def get_run(self, run_id: int) -> RunRow | None: ...
    def list_runs(self, *, flow: str | None = None, limit: int = 50) -> list[RunRow]: ...

    # --- the one write path of a sync
    def commit(self, batch: Batch) -> None: ...

    # --- records and postings (xref)
    def get_record(self, key: str) -> RecordRow | None: ...
    def get_records(self, keys: Sequence[str]) -> dict[str, RecordRow]: ...
    def flow_versions(self, flow: str, keys: Sequence[str]) -> dict[str, str]:
        """Record key -> the version `flow` last processed (its own "unchanged" test)."""
        ...

    def find_records(self, *, source_id: str) -> list[RecordRow]: ...
    def postings_for(self, record_key: str, *, flow: str | None = None) -> list[PostingRow]: ...
    def posted_facets(self, keys: Sequence[str], *, flow: str) -> dict[str, dict[str, str]]: ...
    def posting_by_key(self, idempotency_key: str) -> PostingRow | None: ...
    def postings_linked(self, link: str) -> list[PostingRow]: ...
    def iter_postings(self, *, flow: str | None = None) -> Iterator[PostingRow]: ...
    def outcomes_for(self, record_key: str) -> list[OutcomeRow]: ...

    # --- exception queue
    def open_exceptions(self, *, flow: str | None = None) -> list[ExceptionRow]: ...
    def get_exception(self, exception_id: int) -> ExceptionRow | None: ...
    def exceptions_for(self, record_key: str) -> list[ExceptionRow]: ...
    def held_waiting_on(self, record_keys: Sequence[str]) -> list[ExceptionRow]: ...
    def dismiss_exception(self, exception_id: int, *, actor: str, reason: str) -> None: ...

    # --- cursors
    def get_cursor(self, flow: str, name: str) -> CursorRow | None: ...

    # --- audit (append-only, hash-chained)
    def append_audit(self, event: AuditEvent) -> AuditRow: ...
    def audit_rows(
        self, *, record_key: str | None = None, limit: int | None = None
    ) -> list[AuditRow]: ...
    def verify_audit(self) -> AuditVerdict: ...

    # --- invoice numbers (store/_numbers.py)
    def claim_invoice_number(
        self, *, entity: str, series: str, number: str, seq: int | None, record_key: str,
        at: datetime,
    ) -> str: ...  # fmt: skip
    def invoice_number_owner(self, *, entity: str, series: str, number: str) -> str | None: ...
    def invoice_number_window(
        self, *, entity: str, series: str, number: str, limit: int
    ) -> NumberWindow: ...
    def invoice_numbers(self, *, entity: str | None = None) -> Iterator[InvoiceNumberRow]: ...

    # --- counts for summaries and metrics
    def outcome_counts(self, run_id: int) -> dict[str, int]: ...

    # --- monitoring: reconcile findings, counts, alert incidents (issue 6)
    def save_discrepancies(
        self, flow: str, rows: Sequence[DiscrepancyRow], *, at: datetime
    ) -> None: ...
    def open_discrepancies(self, *, flow: str | None = None) -> list[DiscrepancyRow]: ...
    def discrepancies_since(self, since: datetime) -> list[DiscrepancyRow]: ...
    def monitor_counts(self) -> MonitorCounts: ...
    def posted_since(self, since: datetime) -> dict[str, tuple[int, int]]: ...
    def pending_incidents(self) -> list[IncidentRow]: ...
    def open_incident(self, *, rule: str, subject: str, detail: str, at: datetime) -> int: ...
    def mark_incident(
        self,
        incident_id: int,
        *,
        notified_at: datetime | None = None,
        resolved_at: datetime | None = None,
        resolved_notified_at: datetime | None = None,
    ) -> None: ...
    # --- users, API tokens, web sessions (billbridge serve); secrets arrive hashed
    def add_user(self, *, name: str, role: Role, password_hash: str) -> UserRow: ...
    def get_user(self, name: str) -> UserRow | None: ...
    def list_users(self) -> list[UserRow]: ...
    def add_token(
        self, *, user: str, token_hash: str, label: str, expires_at: datetime | None
    ) -> int: ...
    def user_for_token(self, token_hash: str) -> UserRow | None: ...
    def add_session(
        self, *, session_hash: str, user: str, csrf: str, expires_at: datetime
    ) -> None: ...
    def session_user(self, session_hash: str) -> tuple[UserRow, str] | None: ...
    def end_session(self, session_hash: str) -> None: ...
    def list_tokens(self, *, user: str | None = None) -> list[TokenRow]: ...
    def revoke_token(self, token_id: int, *, actor: str) -> tuple[TokenRow, bool]: ...
    def remove_user(self, name: str, *, actor: str) -> tuple[UserRow, int]: ...
    def set_role(self, name: str, role: Role, *, actor: str) -> Role: ...
    def search_audit(
        self,
        *,
        record_key: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditRow]: ...
    # --- Stripe webhook inbox (store/_inbox.py)
    def inbox_add(
        self,
        *,
        event_id: str,
        connection: str,
        type: str,
        object_key: str,
        created: int,
        payload: bytes,
        flows: Sequence[str] = ("",),
    ) -> bool: ...
    def inbox_pending(
        self, connection: str, *, flow: str | None = None, limit: int = 500
    ) -> list[InboxRow]: ...
    def inbox_get(self, event_id: str, *, flow: str | None = None) -> InboxRow | None: ...
    def inbox_newest_applied(self, object_key: str, *, flow: str | None = None) -> int | None: ...
    def inbox_mark(
        self, event_id: str, status: InboxStatus, *, flow: str | None = None
    ) -> None: ...
    # --- write-backs to billing systems (store/_writebacks.py)
    def get_writeback(
        self, *, connection: str, action: str, record_key: str, version: str
    ) -> WriteBackRow | None: ...
    def writebacks_for(self, record_key: str) -> list[WriteBackRow]: ...
    # --- change control: mapping versions, promotions, tests, approvals (store/_mappings.py)
    def add_mapping_version(self, row: MappingVersionRow, *, audit: AuditEvent | None) -> bool: ...
    def get_mapping_version(self, flow: str, version: str) -> MappingVersionRow | None: ...
    def mapping_versions(self, flow: str) -> list[MappingVersionRow]: ...
    def promoted_mapping(self, flow: str) -> str | None: ...
    def promote_mapping(
        self, *, flow: str, version: str, expected: str | None, kind: PromotionKind,
        actor: str, test_id: int | None, source: str, target: str, mapping: str,
        audit: AuditEvent,
    ) -> PromotionRow: ...  # fmt: skip
    def mapping_promotions(self, flow: str) -> list[PromotionRow]: ...
    def add_mapping_test(
        self, *, flow: str, draft: str, base: str, actor: str, records: int,
        summary: dict[str, Any], audit: AuditEvent,
    ) -> MappingTestRow: ...  # fmt: skip
    def mapping_tests(self, flow: str, *, draft: str | None = None) -> list[MappingTestRow]: ...
    def decide_record(self, row: RecordDecisionRow, *, audit: AuditEvent) -> RecordDecisionRow: ...
    def record_decisions(self, flow: str, record_key: str) -> list[RecordDecisionRow]: ...
    def flow_snapshots(
        self, flow: str, *, limit: int | None = None, since: datetime | None = None
    ) -> list[RecordRow]: ...
