"""The state store's contract, one protocol per role, so a module names the part it uses.

Why roles: the store answers about sixty questions, and a module that takes the whole
`Store` tells its reader nothing about which state it touches. Each module's type hints
name the roles it needs (`Queue`, `Audit`, …), or a combination it declares itself; the
concrete stores (SQLite, PostgreSQL) implement all of them, and `Store` is their sum.

| role | what |
|---|---|
| `Runs` | runs: start, finish, list, their counts and rate-limit figures |
| `Batches` | `commit(batch)`: the one write path of a sync (outcomes, xrefs, audit, cursors) |
| `Records` | records, their postings (xref), flow versions, outcomes, cursors |
| `Queue` | the exception queue: open rows, held records, dismissals |
| `Audit` | the hash-chained audit log: append, read, search, verify |
| `Numbers` | invoice numbers claimed per entity and series |
| `Monitor` | reconcile findings, counts for status/metrics, alert incidents |
| `Users` | users, API tokens, web sessions |
| `Inbox` | the webhook inbox |
| `WriteBacks` | write-backs to billing systems |
| `Pairs` | two-way sync: links, field bases, conflicts; customer-success notifications |
| `Privacy` | GDPR erasure: subject salts, the suppression list, the rewrite |

`SyncState` is what the record path needs (runs, batches, records, queue, numbers).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .rows import (
    AuditEvent,
    AuditHead,
    AuditRow,
    AuditVerdict,
    Batch,
    CursorRow,
    DiscrepancyRow,
    ExceptionRow,
    InboxRow,
    InboxStatus,
    IncidentRow,
    MonitorCounts,
    OutcomeRow,
    PostingRow,
    RecordRow,
    Role,
    RunFigures,
    RunOwner,
    RunRow,
    UserRow,
    WriteBackRow,
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
    from ._pair_rows import ConflictRow, LinkRow, NotificationRow, Statement
    from ._privacy import ErasurePlan
    from ._users import TokenRow

__all__ = [
    "Audit",
    "Batches",
    "Inbox",
    "Mappings",
    "Monitor",
    "Numbers",
    "Pairs",
    "Privacy",
    "Queue",
    "Records",
    "Runs",
    "Store",
    "SyncState",
    "Users",
    "WriteBacks",
]


class Runs(Protocol):
    def start_run(
        self,
        *,
        flow: str,
        kind: str,
        actor: str,
        mapping_version: str = "",
        owner: RunOwner | None = None,
    ) -> RunRow: ...
    def finish_run(
        self,
        run_id: int,
        *,
        counts: Mapping[str, int],
        status: str,
        figures: RunFigures | None = None,
        error: str = "",
    ) -> None:
        """Close a run; `figures` (when its source counted any) are kept with it."""
        ...

    def running_runs(self, *, flow: str | None = None) -> list[RunRow]:
        """Runs whose status is still `running` (alive, or left so by a dead process)."""
        ...

    def touch_run(self, run_id: int) -> None:
        """Note that a running run is alive now (its heartbeat)."""
        ...

    def close_dead_run(self, run_id: int, *, status: str, error: str, actor: str) -> bool:
        """Close a run found dead, with an audit row; False when it was no longer running."""
        ...

    def run_figures(self, run_id: int) -> RunFigures | None: ...
    def get_run(self, run_id: int) -> RunRow | None: ...
    def list_runs(self, *, flow: str | None = None, limit: int = 50) -> list[RunRow]: ...
    def outcome_counts(self, run_id: int) -> dict[str, int]: ...


class Batches(Protocol):
    def commit(self, batch: Batch) -> None:
        """Write a batch in one transaction: all of it or none of it."""
        ...


class Records(Protocol):
    """Records, their postings (the xref across systems), outcomes and cursors."""

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
    def records_linked(self, links: Sequence[str], *, flow: str) -> list[str]: ...
    def iter_postings(self, *, flow: str | None = None) -> Iterator[PostingRow]: ...
    def outcomes_for(self, record_key: str) -> list[OutcomeRow]: ...
    def get_cursor(self, flow: str, name: str) -> CursorRow | None: ...


class Queue(Protocol):
    def open_exceptions(self, *, flow: str | None = None) -> list[ExceptionRow]: ...
    def get_exception(self, exception_id: int) -> ExceptionRow | None: ...
    def exceptions_for(self, record_key: str) -> list[ExceptionRow]: ...
    def held_waiting_on(self, record_keys: Sequence[str]) -> list[ExceptionRow]: ...
    def dismiss_exception(self, exception_id: int, *, actor: str, reason: str) -> None: ...
    def exceptions_since(self, since: datetime) -> list[ExceptionRow]:
        """Rows open at any moment since `since` (open now, or closed after), with `closed_at`."""
        ...


class Audit(Protocol):
    """Append-only and hash-chained."""

    def append_audit(self, event: AuditEvent) -> AuditRow: ...
    def audit_rows(
        self, *, record_key: str | None = None, limit: int | None = None
    ) -> list[AuditRow]: ...
    def verify_audit(self, anchors: Mapping[int, Sequence[str]] | None = None) -> AuditVerdict: ...
    def audit_head(self) -> AuditHead | None: ...
    def search_audit(
        self,
        *,
        record_key: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditRow]: ...


class Numbers(Protocol):
    """Invoice numbers (store/_numbers.py)."""

    def claim_invoice_number(
        self, *, entity: str, series: str, number: str, seq: int | None, record_key: str,
        at: datetime,
    ) -> str: ...  # fmt: skip
    def invoice_number_owner(self, *, entity: str, series: str, number: str) -> str | None: ...
    def invoice_number_window(
        self, *, entity: str, series: str, number: str, limit: int
    ) -> NumberWindow: ...
    def invoice_numbers(self, *, entity: str | None = None) -> Iterator[InvoiceNumberRow]: ...


class Monitor(Protocol):
    """Reconcile findings, counts, alert incidents (issue 6)."""

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


class Users(Protocol):
    """Users, API tokens, web sessions (billbridge serve); secrets arrive hashed."""

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


class Inbox(Protocol):
    """The webhook inbox (store/_inbox.py)."""

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


class WriteBacks(Protocol):
    """Write-backs to billing systems (store/_writebacks.py)."""

    def get_writeback(
        self, *, connection: str, action: str, record_key: str, version: str
    ) -> WriteBackRow | None: ...
    def writebacks_for(self, record_key: str) -> list[WriteBackRow]: ...


class Mappings(Protocol):
    """Change control: mapping versions, promotions, tests and record approvals."""

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


class Pairs(Protocol):
    """Two-way sync (store/_pairs.py): links, field bases, conflicts, notifications."""

    def link_of(self, pair: str, key: str) -> LinkRow | None: ...
    def links_of_pair(self, pair: str, object: str, *, status: str = "active") -> list[LinkRow]: ...
    def links_for_key(self, key: str) -> list[LinkRow]: ...
    def field_bases(self, pair: str, a_key: str) -> dict[str, str]: ...
    def open_conflicts(self, pair: str, a_key: str) -> list[ConflictRow]: ...
    def conflicts_of_record(self, flow: str, record_key: str) -> list[ConflictRow]: ...
    def get_conflict(self, conflict_id: int) -> ConflictRow | None: ...
    def commit_statements(
        self, statements: Sequence[Statement], audit: Sequence[AuditEvent] = ()
    ) -> None: ...
    def postings_writing(self, refs: Sequence[str]) -> list[PostingRow]: ...
    def pending_notifications(self) -> list[NotificationRow]: ...
    def notifications(self) -> list[NotificationRow]: ...
    def mark_notification(
        self, notification_id: int, *, sent_at: datetime | None, error: str = ""
    ) -> None: ...


class Privacy(Protocol):
    """GDPR erasure (store/_privacy.py)."""

    def subject_salt(self, subject: str) -> str: ...
    def erased_subjects(self) -> dict[str, str]: ...
    def records_of_connection(self, connection: str) -> Iterator[RecordRow]: ...
    def inbox_of_connection(self, connection: str) -> list[tuple[str, str, bytes]]: ...
    def apply_erasure(self, plan: ErasurePlan, audit: AuditEvent) -> dict[str, int]: ...
    def compact(self) -> None: ...


class SyncState(Runs, Batches, Records, Queue, Numbers, Mappings, Protocol):
    """What the record path of a sync, replay, reconcile fix or webhook drain needs."""


class Store(Runs, Batches, Records, Queue, Audit, Numbers, Monitor, Users, Inbox, WriteBacks,
            Mappings, Pairs, Privacy, Protocol):  # fmt: skip
    """Every role at once: what opening a workspace's state store gives (both backends)."""

    @property
    def dialect(self) -> str: ...  # "sqlite" or "postgres"

    def close(self) -> None: ...
