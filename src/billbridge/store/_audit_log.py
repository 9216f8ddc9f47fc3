"""The audit chain methods of `SqlStore`: link, append, read and verify the audit log.

Its own module because the chain is the store's one tamper-evident structure: events
are prepared (times and diffs formatted) before the transaction to keep the writer lock
short, then linked onto the head under it; every write path (`commit`, runs, the
exception queue, the other mixins) goes through these two methods, and reading and
verifying stream the log page by page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from . import audit_chain
from .base import AuditEvent, AuditHead, AuditRow, AuditVerdict, StoreError

if TYPE_CHECKING:
    from ._common import Tx

__all__ = ["PAGE", "AuditMixin", "PreparedAudit"]

PAGE = 1000  # rows per page when streaming the audit log

# An audit event ready to link: (event, time in UTC, that time as `iso_utc` text, the
# time as the driver takes it, the diff's stored text, the diff's JSON for the hash).
PreparedAudit = tuple[AuditEvent, datetime, str, Any, str, bytes]


def _now() -> datetime:
    return datetime.now(UTC)


class AuditMixin:
    """Needs the SqlStore plumbing (`_q`, `_guard`, `_write`, `_bulk`, `_ts`, `_aware`)."""

    if TYPE_CHECKING:  # provided by SqlStore and RowReader
        _q: dict[str, str]
        _no_limit: ClassVar[int | None]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Tx]: ...
        def _bulk(self, tx: Tx, name: str, rows: list[tuple[Any, ...]]) -> None: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _one(self, name: str, params: Sequence[Any] = ()) -> Any: ...
        def _ts(self, at: datetime) -> Any: ...
        @staticmethod
        def _aware(at: datetime) -> datetime: ...
        def _audit(self, r: Sequence[Any]) -> AuditRow: ...

    def _prepare_audit(
        self,
        events: Sequence[AuditEvent],
        now: datetime,
        ts: Callable[[datetime], Any] | None = None,
    ) -> list[PreparedAudit]:
        """Format times and diffs before the transaction, to keep the lock short.

        Each event becomes (event, its time in UTC, that time as `iso_utc` text, the
        driver's form of it, the diff's stored text, the diff's JSON for the hash).
        """
        ts = ts or self._ts
        iso = audit_chain.iso_utc
        prepared = []
        for event in events:
            try:
                text, hashed = audit_chain.diff_texts(event.diff)
            except (TypeError, ValueError) as exc:
                raise StoreError(f"audit diff of {event.record_key!r} is not JSON: {exc}") from None
            at = now if event.at is None else self._aware(event.at)
            stamp = ts(at)  # SQLite's form of a time is its iso_utc text already
            at_text = stamp if isinstance(stamp, str) else iso(at)
            prepared.append((event, at, at_text, stamp, text, hashed))
        return prepared

    def _append(self, tx: Tx, events: list[PreparedAudit]) -> list[tuple[Any, ...]]:
        """Link events onto the chain head and insert them; the caller holds the writer lock.

        Returns the inserted parameter tuples (seq, at, actor, action, record_key, diff
        text, run_id, mapping_version, prev_hash, hash); the hot path builds no row objects.
        """
        head = tx.execute(self._q["audit_head"], ()).fetchall()
        seq, prev = (head[0][0], head[0][1]) if head else (0, audit_chain.GENESIS)
        canonical, chain_hash = audit_chain.canonical_text, audit_chain.chain_hash
        params = []
        for event, _, at_text, stamp, text, hashed in events:
            seq += 1
            content = canonical(
                seq=seq, at=at_text, actor=event.actor, action=event.action,
                record_key=event.record_key, diff=hashed, run_id=event.run_id,
                mapping_version=event.mapping_version,
            )  # fmt: skip
            digest = chain_hash(prev, content)
            params.append(
                (seq, stamp, event.actor, event.action, event.record_key, text,
                 event.run_id, event.mapping_version, prev, digest)
            )  # fmt: skip
            prev = digest
        self._bulk(tx, "insert_audit", params)
        return params

    def append_audit(self, event: AuditEvent) -> AuditRow:
        events = self._prepare_audit([event], _now())
        with self._guard("append audit"), self._write(lock=True) as tx:
            (p,) = self._append(tx, events)
        at, text = events[0][1], events[0][4]
        return AuditRow(
            seq=p[0], at=at, actor=p[2], action=p[3], record_key=p[4], diff=orjson.loads(text),
            run_id=p[6], mapping_version=p[7], prev_hash=p[8], hash=p[9],
        )  # fmt: skip

    def audit_rows(
        self, *, record_key: str | None = None, limit: int | None = None
    ) -> list[AuditRow]:
        """Rows in seq order; with `limit`, the latest `limit` rows."""
        params = (record_key, record_key, self._no_limit if limit is None else limit)
        with self._guard("read audit"):
            return [self._audit(r) for r in self._all("audit_rows", params)]

    def _iter_audit(self) -> Iterator[AuditRow]:
        last = 0
        while True:
            with self._guard("read audit"):
                page = self._all("audit_page", (last, PAGE))
            yield from (self._audit(r) for r in page)
            if len(page) < PAGE:
                return
            last = page[-1][0]

    def verify_audit(self, anchors: Mapping[int, Sequence[str]] | None = None) -> AuditVerdict:
        """Recompute the chain page by page (never the whole table in memory), and compare
        it with `anchors` (seq → head hashes recorded outside the store) when given."""
        return audit_chain.verify_chain(self._iter_audit(), anchors)

    def audit_head(self) -> AuditHead | None:
        """The chain's newest row (seq, hash), for an anchor; None while it is empty."""
        with self._guard("read audit"):
            row = self._one("audit_head", ())
        return None if row is None else AuditHead(seq=int(row[0]), hash=str(row[1]))
