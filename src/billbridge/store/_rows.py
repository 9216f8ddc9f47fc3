"""Building the store's row values from driver rows (both backends).

Why a mixin of its own: the column order of every SELECT in queries.sql is fixed here,
once for both dialects; only how a time comes back differs (`_dt`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from .base import AuditRow, ExceptionRow, OutcomeRow, PostingRow, RecordRow, RunOwner, RunRow

__all__ = ["RowReader"]


class RowReader:
    """Row builders; the column order matches the SELECT lists in queries.sql."""

    @abstractmethod
    def _dt(self, value: Any) -> datetime:
        """A time as the driver returned it, made an aware UTC datetime."""

    def _run(self, r: Sequence[Any]) -> RunRow:
        counts = orjson.loads(r[7]) if isinstance(r[7], str | bytes) else r[7]
        owner = RunOwner(host=r[9], pid=int(r[10]), token=r[11]) if r[11] else None
        return RunRow(
            id=r[0], flow=r[1], kind=r[2], actor=r[3], started_at=self._dt(r[4]),
            finished_at=None if r[5] is None else self._dt(r[5]), status=r[6],
            counts=counts, mapping_version=r[8], owner=owner,
            heartbeat_at=None if r[12] is None else self._dt(r[12]), error=r[13],
        )  # fmt: skip

    def _record(self, r: Sequence[Any]) -> RecordRow:
        return RecordRow(
            key=r[0], connection=r[1], object=r[2], source_id=r[3], version=r[4],
            snapshot=bytes(r[5]), seen_at=self._dt(r[6]),
        )  # fmt: skip

    def _posting(self, r: Sequence[Any]) -> PostingRow:  # r[0] is the row id
        return PostingRow(
            flow=r[1], record_key=r[2], facet=r[3], idempotency_key=r[4], version=r[5],
            entry_hash=r[6], target=r[7], target_ref=r[8], run_id=r[9],
            posted_at=self._dt(r[10]), summary=r[11], link=r[12], lines=r[13],
            mapping_version=r[14],
        )  # fmt: skip

    def _outcome(self, r: Sequence[Any]) -> OutcomeRow:
        return OutcomeRow(
            run_id=r[0], flow=r[1], record_key=r[2], version=r[3], outcome=r[4],
            at=self._dt(r[5]), retryable=bool(r[6]), error=r[7], field=r[8], hint=r[9],
        )  # fmt: skip

    def _exception(self, r: Sequence[Any]) -> ExceptionRow:
        last_tried = self._dt(r[13])
        return ExceptionRow(
            id=r[0], flow=r[1], record_key=r[2], version=r[3], kind=r[4], error=r[5],
            field=r[6], hint=r[7], retryable=bool(r[8]), waiting_on=r[9],
            next_try_at=None if r[10] is None else self._dt(r[10]), attempts=r[11],
            first_seen=self._dt(r[12]), last_tried=last_tried, at=last_tried,
            status=r[14], resolution=r[15], held_since=None if r[16] is None else self._dt(r[16]),
            closed_at=self._dt(r[17]) if len(r) > 17 and r[17] is not None else None,
        )  # fmt: skip

    def _audit(self, r: Sequence[Any]) -> AuditRow:
        return AuditRow(
            seq=r[0], at=self._dt(r[1]), actor=r[2], action=r[3], record_key=r[4],
            diff=orjson.loads(r[5]), run_id=r[6], mapping_version=r[7], prev_hash=r[8],
            hash=r[9],
        )  # fmt: skip
