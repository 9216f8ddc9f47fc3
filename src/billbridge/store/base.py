"""The state-store contract: one schema, two backends (SQLite embedded, PostgreSQL).

Why batches: the path of one record ends in one commit of its outcome, xref, audit row
and cursor. Committing one transaction per record caps a backfill at a few hundred
records per second, so the engine gathers many records' effects into a `Batch` and the
store writes it in one transaction (each record still its own outcome). Either the
whole batch is in the store or none of it is; the target's idempotency keys cover the
writes whose commit was lost.

The rows are in `rows.py` (plain frozen values; times are timezone-aware UTC datetimes),
the protocol, one per role (records, queue, audit, users, monitor, …), in `roles.py`;
both are re-exported here.
"""

from __future__ import annotations

from .roles import (
    Audit,
    Batches,
    Inbox,
    Mappings,
    Monitor,
    Numbers,
    Queue,
    Records,
    Runs,
    Store,
    SyncState,
    Users,
    WriteBacks,
)
from .rows import (
    AuditEvent,
    AuditHead,
    AuditRow,
    AuditVerdict,
    Batch,
    CursorRow,
    DiscrepancyRow,
    ExceptionKind,
    ExceptionRow,
    InboxCounts,
    InboxRow,
    InboxStatus,
    IncidentRow,
    MonitorCounts,
    OutcomeName,
    OutcomeRow,
    PostingRow,
    RecordRow,
    Role,
    RunCost,
    RunFigures,
    RunOwner,
    RunRow,
    StoreError,
    UserRow,
    WriteBackRow,
    WriteBackStatus,
)

__all__ = [
    "Audit",
    "AuditEvent",
    "AuditHead",
    "AuditRow",
    "AuditVerdict",
    "Batch",
    "Batches",
    "CursorRow",
    "DiscrepancyRow",
    "ExceptionKind",
    "ExceptionRow",
    "Inbox",
    "InboxCounts",
    "InboxRow",
    "InboxStatus",
    "IncidentRow",
    "Mappings",
    "Monitor",
    "MonitorCounts",
    "Numbers",
    "OutcomeName",
    "OutcomeRow",
    "PostingRow",
    "Queue",
    "RecordRow",
    "Records",
    "Role",
    "RunCost",
    "RunFigures",
    "RunOwner",
    "RunRow",
    "Runs",
    "Store",
    "StoreError",
    "SyncState",
    "UserRow",
    "Users",
    "WriteBackRow",
    "WriteBackStatus",
    "WriteBacks",
]
