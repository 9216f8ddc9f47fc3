"""Store methods over the two-way tables and the notification outbox (migration 0100).

Reads only: the rows are written with a sync's batch (`Batch.statements`, built by
`_pair_rows`), or by `commit_statements` for a change made outside a run (a person
resolving a conflict), with its audit rows in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ._pair_rows import ConflictRow, LinkRow, NotificationRow, Statement
from .rows import AuditEvent, PostingRow

__all__ = ["PairsMixin"]


class PairsMixin:
    if TYPE_CHECKING:
        _q: dict[str, str]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Any]: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _dt(self, value: Any) -> datetime: ...
        def _params(self, params: Sequence[Any]) -> tuple[Any, ...]: ...
        def _prepare_audit(self, events: Sequence[AuditEvent], now: datetime) -> list[Any]: ...
        def _keys(self, keys: Sequence[str]) -> Any: ...
        def _posting(self, r: Sequence[Any]) -> PostingRow: ...
        def _append(self, tx: Any, events: list[Any]) -> list[tuple[Any, ...]]: ...

    def link_of(self, pair: str, key: str) -> LinkRow | None:
        """The link holding `key` on either side of `pair` (active or archived)."""
        with self._guard("read two-way links"):
            rows = self._all("link_of", (pair, key, key))
        return self._link(rows[0]) if rows else None

    def links_of_pair(self, pair: str, object: str, *, status: str = "active") -> list[LinkRow]:
        with self._guard("read two-way links"):
            return [self._link(r) for r in self._all("links_of_pair", (pair, object, status))]

    def links_for_key(self, key: str) -> list[LinkRow]:
        """Every link of `key`, in any pair, on either side."""
        with self._guard("read two-way links"):
            return [self._link(r) for r in self._all("links_for_key", (key, key))]

    def field_bases(self, pair: str, a_key: str) -> dict[str, str]:
        """field -> the JSON of the value billbridge last synced on both sides."""
        with self._guard("read field bases"):
            return {str(f): str(v) for f, v in self._all("bases_of", (pair, a_key))}

    def open_conflicts(self, pair: str, a_key: str) -> list[ConflictRow]:
        with self._guard("read conflicts"):
            return [self._conflict(r) for r in self._all("conflicts_open_of", (pair, a_key))]

    def conflicts_of_record(self, flow: str, record_key: str) -> list[ConflictRow]:
        """The open field conflicts behind one queue row (flow, record)."""
        with self._guard("read conflicts"):
            rows = self._all("conflicts_of_record", (flow, record_key))
        return [self._conflict(r) for r in rows]

    def get_conflict(self, conflict_id: int) -> ConflictRow | None:
        with self._guard("read conflicts"):
            rows = self._all("conflict_get", (conflict_id,))
        return self._conflict(rows[0]) if rows else None

    def commit_statements(
        self, statements: Sequence[Statement], audit: Sequence[AuditEvent] = ()
    ) -> None:
        """Write statements and their audit rows in one transaction."""
        now = datetime.now(UTC)
        events = self._prepare_audit(list(audit), now) if audit else []
        with self._guard("write two-way state"), self._write(lock=bool(events)) as tx:
            for name, params in statements:
                tx.execute(self._q[name], self._params(params))
            if events:
                self._append(tx, events)

    def postings_writing(self, refs: Sequence[str]) -> list[PostingRow]:
        """The writes of records to objects with these ids in other systems (for trace:
        the deal whose write made the subscription an invoice names)."""
        if not refs:
            return []
        with self._guard("read postings"):
            return [self._posting(r) for r in self._all("postings_writing", (self._keys(refs),))]

    def pending_notifications(self) -> list[NotificationRow]:
        with self._guard("read notifications"):
            return [self._notification(r) for r in self._all("notifications_pending")]

    def notifications(self) -> list[NotificationRow]:
        with self._guard("read notifications"):
            return [self._notification(r) for r in self._all("notifications_all")]

    def mark_notification(self, notification_id: int, *, sent_at: datetime | None,
                          error: str = "") -> None:  # fmt: skip
        with self._guard("mark notification"), self._write() as tx:
            tx.execute(
                self._q["notification_mark"], self._params((sent_at, error, notification_id))
            )

    def _link(self, r: Any) -> LinkRow:
        return LinkRow(
            pair=r[0], object=r[1], a_key=r[2], b_key=r[3], status=r[4],
            linked_at=self._dt(r[5]), archived_at=self._dt(r[6]) if r[6] is not None else None,
        )  # fmt: skip

    def _conflict(self, r: Any) -> ConflictRow:
        return ConflictRow(
            id=int(r[0]), pair=r[1], a_key=r[2], b_key=r[3], field=r[4], base=r[5],
            a_value=r[6], b_value=r[7], a_at=self._dt(r[8]), b_at=self._dt(r[9]),
            a_actor=r[10], b_actor=r[11], flow=r[12], record_key=r[13], status=r[14],
            resolution=r[15], opened_at=self._dt(r[16]),
            resolved_at=self._dt(r[17]) if r[17] is not None else None,
        )  # fmt: skip

    def _notification(self, r: Any) -> NotificationRow:
        return NotificationRow(
            id=int(r[0]), kind=r[1], subject=r[2], payload=r[3], created_at=self._dt(r[4]),
            sent_at=self._dt(r[5]) if r[5] is not None else None, attempts=int(r[6]),
            error=r[7],
        )  # fmt: skip
