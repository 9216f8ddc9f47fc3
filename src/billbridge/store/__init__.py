"""The state store: one schema, SQLite (embedded default) and PostgreSQL behind `Store`.

`open_store(url)` is the only way in; the backends' modules are private. Opening a store
applies pending migrations, so callers never see an old schema.
"""

from __future__ import annotations

from pathlib import Path

from ._common import redact_url as _redact_url
from ._mappings import (
    ChangedMeanwhileError,
    MappingTestRow,
    MappingVersionRow,
    PromotionKind,
    PromotionRow,
    RecordDecisionRow,
)
from ._numbers import InvoiceNumberRow, NumberWindow
from ._pool import StorePool
from ._users import LastAdminError, NotFoundError, TokenRow, TokenStatus
from .base import (
    AuditEvent,
    AuditHead,
    AuditRow,
    AuditVerdict,
    Batch,
    CursorRow,
    ExceptionRow,
    OutcomeRow,
    PostingRow,
    RecordRow,
    RunOwner,
    RunRow,
    Store,
    StoreError,
)

__all__ = [
    "AuditEvent",
    "AuditHead",
    "AuditRow",
    "AuditVerdict",
    "Batch",
    "ChangedMeanwhileError",
    "CursorRow",
    "ExceptionRow",
    "InvoiceNumberRow",
    "LastAdminError",
    "MappingTestRow",
    "MappingVersionRow",
    "NotFoundError",
    "NumberWindow",
    "OutcomeRow",
    "PostingRow",
    "PromotionKind",
    "PromotionRow",
    "RecordDecisionRow",
    "RecordRow",
    "RunOwner",
    "RunRow",
    "Store",
    "StoreError",
    "StorePool",
    "TokenRow",
    "TokenStatus",
    "open_store",
]

_SQLITE_PREFIXES = ("sqlite:///", "sqlite://")
_POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def open_store(url: str | Path) -> Store:
    """Open (and migrate) the state store at `url`.

    `sqlite:///relative/state.db`, `sqlite:////absolute/state.db` or a plain path open
    SQLite; `postgresql://user@host:port/db[?schema=name]` opens PostgreSQL, with
    `schema` (created if missing) as the search_path.
    """
    text = str(url)
    if text.startswith(_POSTGRES_PREFIXES):
        from ._postgres import PostgresStore  # noqa: PLC0415 - SQLite users skip psycopg

        return PostgresStore(text)
    for prefix in _SQLITE_PREFIXES:
        if text.startswith(prefix):
            text = text.removeprefix(prefix)
            break
    else:
        if "://" in text:
            raise StoreError(
                f"unknown state store URL {_redact_url(text)!r}: "
                "use sqlite:///path, a plain path, or postgresql://…"
            )
    if not text:
        raise StoreError("empty SQLite path in the state store URL")
    from ._sqlite import SQLiteStore  # noqa: PLC0415 - symmetric with PostgreSQL

    return SQLiteStore(text)
