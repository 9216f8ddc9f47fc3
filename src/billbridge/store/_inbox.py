"""The Stripe webhook inbox: events stored before the receiver answers, processed after.

Why in the state store: a webhook answered 2xx is never sent again, so the event must
be durable before the answer; keeping it in the same store as outcomes means a crash
between the answer and the processing loses nothing (the next processing pass reads
the pending rows). One row per (event id, flow): the key is also the dedupe, and each
flow reading the connection processes (and marks) its own copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .base import InboxRow, InboxStatus

__all__ = ["InboxMixin"]


class InboxMixin:
    """Store methods over `stripe_inbox` (migration 0002), for SqlStore's bases."""

    if TYPE_CHECKING:
        _q: dict[str, str]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Any]: ...
        def _ts(self, at: datetime) -> Any: ...
        def _all(self, name: str, params: Any = ()) -> list[Any]: ...
        def _dt(self, value: Any) -> datetime: ...

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
    ) -> bool:
        """Store a verified event once per flow, in one transaction; False when every row
        was already there (a redelivery)."""
        at = self._ts(datetime.now(UTC))
        with self._guard("store webhook event"), self._write() as tx:
            added = [
                tx.execute(
                    self._q["inbox_add"],
                    (event_id, flow, connection, type, object_key, created, payload, at),
                ).fetchall()
                for flow in flows
            ]
        return any(added)

    def inbox_pending(
        self, connection: str, *, flow: str | None = None, limit: int = 500
    ) -> list[InboxRow]:
        """Events not yet processed (for `flow`, or for any flow), oldest `created` first."""
        with self._guard("read webhook inbox"):
            return list(
                self._inbox_rows(self._all("inbox_pending", (connection, flow, flow, limit)))
            )

    def inbox_get(self, event_id: str, *, flow: str | None = None) -> InboxRow | None:
        """The event's row for `flow`; without a flow, a pending row first if there is one."""
        with self._guard("read webhook inbox"):
            rows = list(self._inbox_rows(self._all("inbox_get", (event_id, flow, flow))))
        return rows[0] if rows else None

    def inbox_newest_applied(self, object_key: str, *, flow: str | None = None) -> int | None:
        """The `created` of the newest processed event about this object, if any."""
        with self._guard("read webhook inbox"):
            rows = self._all("inbox_newest_applied", (object_key, flow, flow))
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def inbox_mark(self, event_id: str, status: InboxStatus, *, flow: str | None = None) -> None:
        at = self._ts(datetime.now(UTC))
        with self._guard("mark webhook event"), self._write() as tx:
            tx.execute(self._q["inbox_mark"], (status, at, event_id, flow, flow))

    def _inbox_rows(self, rows: list[Any]) -> Iterator[InboxRow]:
        for event_id, flow, connection, type_, object_key, created, payload, status, at in rows:
            yield InboxRow(
                event_id=event_id,
                flow=flow,
                connection=connection,
                type=type_,
                object_key=object_key,
                created=int(created),
                payload=bytes(payload),
                status=status,
                received_at=self._dt(at),
            )
