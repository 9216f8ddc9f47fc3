"""The record, posting, outcome, exception-queue and cursor methods of `SqlStore`.

Its own module because these are the per-record reads the engine makes on every sync
(what was seen, what was posted, what is held or failed), plus dismissing a queued
exception; they share nothing with the batch write path in `_common` but the plumbing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .base import (
    AuditEvent,
    CursorRow,
    ExceptionRow,
    OutcomeRow,
    PostingRow,
    RecordRow,
    StoreError,
)

if TYPE_CHECKING:
    from ._audit_log import PreparedAudit
    from ._common import Tx

__all__ = ["PAGE", "RecordsMixin"]

PAGE = 1000  # rows per page when streaming postings


def _now() -> datetime:
    return datetime.now(UTC)


class RecordsMixin:
    """Needs the SqlStore plumbing, the `RowReader` builders and the audit chain."""

    if TYPE_CHECKING:  # provided by SqlStore, RowReader and AuditMixin
        _q: dict[str, str]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Tx]: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _one(self, name: str, params: Sequence[Any] = ()) -> Any: ...
        def _ts(self, at: datetime) -> Any: ...
        def _keys(self, keys: Sequence[str]) -> Any: ...
        @staticmethod
        def _aware(at: datetime) -> datetime: ...
        def _record(self, r: Sequence[Any]) -> RecordRow: ...
        def _posting(self, r: Sequence[Any]) -> PostingRow: ...
        def _outcome(self, r: Sequence[Any]) -> OutcomeRow: ...
        def _exception(self, r: Sequence[Any]) -> ExceptionRow: ...
        def _prepare_audit(
            self,
            events: Sequence[AuditEvent],
            now: datetime,
            ts: Callable[[datetime], Any] | None = None,
        ) -> list[PreparedAudit]: ...
        def _append(self, tx: Tx, events: list[PreparedAudit]) -> list[tuple[Any, ...]]: ...

    # ------------------------------------------------------------------ records, postings
    def get_record(self, key: str) -> RecordRow | None:
        with self._guard("get record"):
            row = self._one("get_record", (key,))
        return None if row is None else self._record(row)

    def get_records(self, keys: Sequence[str]) -> dict[str, RecordRow]:
        if not keys:
            return {}
        with self._guard("get records"):
            rows = self._all("get_records", (self._keys(keys),))
        return {r[0]: self._record(r) for r in rows}

    def flow_versions(self, flow: str, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        with self._guard("read flow versions"):
            return dict(self._all("flow_versions", (flow, self._keys(keys))))

    def find_records(self, *, source_id: str) -> list[RecordRow]:
        with self._guard("find records"):
            return [self._record(r) for r in self._all("find_records", (source_id,))]

    def postings_for(self, record_key: str, *, flow: str | None = None) -> list[PostingRow]:
        with self._guard("read postings"):
            rows = self._all("postings_for", (record_key, flow, flow))
        return [self._posting(r) for r in rows]

    def posted_facets(self, keys: Sequence[str], *, flow: str) -> dict[str, dict[str, str]]:
        """record key -> facet -> entry hash, for many records in one query (the hot path)."""
        found: dict[str, dict[str, str]] = {}
        if not keys:
            return found
        with self._guard("read postings"):
            rows = self._all("posted_facets", (self._keys(keys), flow))
        for record_key, facet, entry_hash in rows:
            found.setdefault(record_key, {})[facet] = entry_hash
        return found

    def posting_by_key(self, idempotency_key: str) -> PostingRow | None:
        with self._guard("read posting"):
            row = self._one("posting_by_key", (idempotency_key,))
        return None if row is None else self._posting(row)

    def postings_linked(self, link: str) -> list[PostingRow]:
        """Every posting of one document (an invoice and its payments, refunds, notes)."""
        if not link:
            return []
        with self._guard("read postings"):
            return [self._posting(r) for r in self._all("postings_linked", (link,))]

    def records_linked(self, links: Sequence[str], *, flow: str) -> list[str]:
        """Records of `flow` with an entry that carries one of `links`, in one query."""
        if not links:
            return []
        with self._guard("read postings"):
            rows = self._all("records_linked", (self._keys(links), flow))
        return sorted(str(r[0]) for r in rows)

    def iter_postings(self, *, flow: str | None = None) -> Iterator[PostingRow]:
        """Every posting in insertion order, fetched a page at a time."""
        last = 0
        while True:
            with self._guard("read postings"):
                page = self._all("postings_page", (last, flow, flow, PAGE))
            yield from (self._posting(r) for r in page)
            if len(page) < PAGE:
                return
            last = page[-1][0]

    def outcomes_for(self, record_key: str) -> list[OutcomeRow]:
        with self._guard("read outcomes"):
            return [self._outcome(r) for r in self._all("outcomes_for", (record_key,))]

    def outcome_counts(self, run_id: int) -> dict[str, int]:
        with self._guard("count outcomes"):
            return {name: int(n) for name, n in self._all("outcome_counts", (run_id,))}

    # ------------------------------------------------------------------ exception queue
    def open_exceptions(self, *, flow: str | None = None) -> list[ExceptionRow]:
        with self._guard("read queue"):
            return [self._exception(r) for r in self._all("open_exceptions", (flow, flow))]

    def get_exception(self, exception_id: int) -> ExceptionRow | None:
        with self._guard("read queue"):
            row = self._one("get_exception", (exception_id,))
        return None if row is None else self._exception(row)

    def exceptions_for(self, record_key: str) -> list[ExceptionRow]:
        with self._guard("read queue"):
            return [self._exception(r) for r in self._all("exceptions_for", (record_key,))]

    def exceptions_since(self, since: datetime) -> list[ExceptionRow]:
        with self._guard("read queue history"):
            rows = self._all("exceptions_since", (self._ts(self._aware(since)),))
        return [self._exception(r) for r in rows]

    def held_waiting_on(self, record_keys: Sequence[str]) -> list[ExceptionRow]:
        if not record_keys:
            return []
        with self._guard("read queue"):
            rows = self._all("held_waiting_on", (self._keys(record_keys),))
        return [self._exception(r) for r in rows]

    def dismiss_exception(self, exception_id: int, *, actor: str, reason: str) -> None:
        """Close an open row as dismissed, with its audit row in the same transaction."""
        now = _now()
        with self._guard("dismiss exception"), self._write(lock=True) as tx:
            found = tx.execute(
                self._q["dismiss_exception"], (reason, self._ts(now), exception_id)
            ).fetchall()
            if not found:
                status = tx.execute(self._q["exception_status"], (exception_id,)).fetchall()
                if not status:
                    raise StoreError(f"no exception {exception_id} in the queue")
                raise StoreError(f"exception {exception_id} is {status[0][0]}, not open")
            event = AuditEvent(
                actor=actor, action="dismissed", record_key=found[0][0], at=now,
                diff={"status": ["open", "dismissed"], "resolution": ["", reason]},
            )  # fmt: skip
            self._append(tx, self._prepare_audit([event], now))

    # ------------------------------------------------------------------ cursors
    def get_cursor(self, flow: str, name: str) -> CursorRow | None:
        with self._guard("read cursor"):
            row = self._one("get_cursor", (flow, name))
        return None if row is None else CursorRow(flow=row[0], name=row[1], value=row[2],
                                                  position=row[3])  # fmt: skip
