"""Write-backs to billing systems: one row per request (migration 0009).

Why in the state store: the row is written `pending` before the request leaves, so
whatever happens next (a dropped connection, a killed process) the next attempt knows
the write may have landed and looks the object up first. Rows are changed through
`Batch.writebacks`, in the same transaction as their audit row and queue change.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .base import WriteBackRow

__all__ = ["WriteBacksMixin", "writeback_params"]


def writeback_params(row: WriteBackRow, ts: Any, now: datetime) -> tuple[Any, ...]:
    """The `upsert_writeback` parameters of a row (times default to now)."""
    return (
        row.connection, row.action, row.record_key, row.version, row.idempotency_key,
        row.status, row.attempt, row.object_id, row.how, row.error, row.request, row.actor,
        ts(row.first_at or now), ts(row.last_at or now),
    )  # fmt: skip


class WriteBacksMixin:
    """Store methods over `writebacks`; mixed into SqlStore."""

    if TYPE_CHECKING:

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _dt(self, value: Any) -> datetime: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...

    def get_writeback(
        self, *, connection: str, action: str, record_key: str, version: str
    ) -> WriteBackRow | None:
        with self._guard("read write-backs"):
            rows = self._all("get_writeback", (connection, action, record_key, version))
        return self._writeback(rows[0]) if rows else None

    def writebacks_for(self, record_key: str) -> list[WriteBackRow]:
        """Every write-back made for one record, oldest first."""
        with self._guard("read write-backs"):
            return [self._writeback(r) for r in self._all("writebacks_for", (record_key,))]

    def _writeback(self, r: Any) -> WriteBackRow:
        return WriteBackRow(
            id=int(r[0]), connection=r[1], action=r[2], record_key=r[3], version=r[4],
            idempotency_key=r[5], status=r[6], attempt=int(r[7]), object_id=r[8], how=r[9],
            error=r[10], request=bytes(r[11]), actor=r[12], first_at=self._dt(r[13]),
            last_at=self._dt(r[14]),
        )  # fmt: skip
