"""Change control in the store: mapping versions, promotions, tests, record approvals (0080).

Why here and in one transaction each: a promotion changes what production posts with, so
it must be exactly one of (the flow's pointer moved, the promotion row, its audit row) or
none of them, and two approvers promoting at once must not both win (`expected` is the
version the caller saw promoted; a different one refuses). Version rows are immutable in
the database itself (triggers), like the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import orjson

from .base import AuditEvent, RecordRow, StoreError

__all__ = [
    "ChangedMeanwhileError",
    "MappingStoreMixin",
    "MappingTestRow",
    "MappingVersionRow",
    "PromotionKind",
    "PromotionRow",
    "RecordDecisionRow",
]

PromotionKind = Literal["bootstrap", "promote", "rollback"]
Decision = Literal["approved", "rejected"]


class ChangedMeanwhileError(StoreError):
    """Another promotion landed between reading the promoted version and promoting."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingVersionRow:
    """One stored mapping version; `content` is the validated model's JSON."""

    flow: str
    version: str
    content: str
    author: str
    created_at: datetime
    comment: str = ""
    parent: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotionRow:
    id: int
    flow: str
    version: str
    previous: str
    kind: PromotionKind
    actor: str
    test_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingTestRow:
    id: int
    flow: str
    draft: str
    base: str
    actor: str
    at: datetime
    records: int
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordDecisionRow:
    """An approver's decision on one version of a record an approval rule held."""

    flow: str
    record_key: str
    version: str
    rule: str
    decision: Decision
    actor: str
    reason: str = ""
    at: datetime | None = None
    id: int = 0


class MappingStoreMixin:
    """The change-control methods of `SqlStore`."""

    if TYPE_CHECKING:  # provided by SqlStore
        _q: dict[str, str]
        _no_limit: ClassVar[int | None]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Any]: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _one(self, name: str, params: Sequence[Any] = ()) -> Any: ...
        def _ts(self, at: datetime) -> Any: ...
        def _opt_ts(self, at: datetime | None) -> Any: ...
        def _dt(self, value: Any) -> datetime: ...
        def _record(self, r: Sequence[Any]) -> RecordRow: ...
        def _prepare_audit(self, events: Sequence[AuditEvent], now: datetime) -> list[Any]: ...
        def _append(self, tx: Any, events: list[Any]) -> list[tuple[Any, ...]]: ...

    # ------------------------------------------------------------------ versions
    def _version_row(self, r: Sequence[Any]) -> MappingVersionRow:
        return MappingVersionRow(
            flow=r[0], version=r[1], content=r[2], author=r[3], created_at=self._dt(r[4]),
            comment=r[5], parent=r[6],
        )  # fmt: skip

    def add_mapping_version(self, row: MappingVersionRow, *, audit: AuditEvent | None) -> bool:
        """Store a version once; True when this call stored it (then `audit` is appended)."""
        params = (row.flow, row.version, row.content, row.author, self._ts(row.created_at),
                  row.comment, row.parent)  # fmt: skip
        now = datetime.now(UTC)
        with self._guard("store mapping version"), self._write(lock=audit is not None) as tx:
            if not tx.execute(self._q["insert_mapping_version"], params).fetchall():
                return False
            if audit is not None:
                self._append(tx, self._prepare_audit([audit], now))
        return True

    def get_mapping_version(self, flow: str, version: str) -> MappingVersionRow | None:
        with self._guard("read mapping version"):
            row = self._one("get_mapping_version", (flow, version))
        return None if row is None else self._version_row(row)

    def mapping_versions(self, flow: str) -> list[MappingVersionRow]:
        """Every stored version of a flow's mapping, oldest first."""
        with self._guard("read mapping versions"):
            return [self._version_row(r) for r in self._all("mapping_versions", (flow,))]

    # ------------------------------------------------------------------ promotions
    def promoted_mapping(self, flow: str) -> str | None:
        """The version the flow runs (`flows.mapping_version`); None before the bootstrap."""
        with self._guard("read promoted mapping"):
            row = self._one("promoted_mapping", (flow,))
        return row[0] if row is not None and row[0] else None

    def promote_mapping(
        self,
        *,
        flow: str,
        version: str,
        expected: str | None,
        kind: PromotionKind,
        actor: str,
        test_id: int | None,
        source: str,
        target: str,
        mapping: str,
        audit: AuditEvent,
    ) -> PromotionRow:
        """Point `flow` at `version`, with its promotion and audit rows, in one transaction.

        Raises `ChangedMeanwhileError` when the promoted version is no longer `expected`.
        """
        now = datetime.now(UTC)
        with self._guard("promote mapping"), self._write(lock=True) as tx:
            rows = tx.execute(self._q["promoted_mapping"], (flow,)).fetchall()
            current = rows[0][0] if rows and rows[0][0] else None
            if current != expected:
                raise ChangedMeanwhileError(
                    f"flow {flow!r} now runs mapping {current or 'none'}, not "
                    f"{expected or 'none'}: someone promoted meanwhile; look again and retry"
                )
            tx.execute(
                self._q["upsert_flow_mapping"],
                (flow, source, target, mapping, version, self._ts(now)),
            )
            params = (flow, version, expected or "", kind, actor, test_id, self._ts(now))
            (promotion_id,) = tx.execute(self._q["insert_promotion"], params).fetchall()[0]
            self._append(tx, self._prepare_audit([audit], now))
        return PromotionRow(
            id=int(promotion_id), flow=flow, version=version, previous=expected or "", kind=kind,
            actor=actor, test_id=test_id, at=now,
        )  # fmt: skip

    def mapping_promotions(self, flow: str) -> list[PromotionRow]:
        """Every promotion of a flow (bootstrap, promote, rollback), oldest first."""
        with self._guard("read promotions"):
            return [self._promotion(r) for r in self._all("mapping_promotions", (flow,))]

    def _promotion(self, r: Sequence[Any]) -> PromotionRow:
        return PromotionRow(
            id=int(r[0]), flow=r[1], version=r[2], previous=r[3], kind=r[4], actor=r[5],
            test_id=None if r[6] is None else int(r[6]), at=self._dt(r[7]),
        )  # fmt: skip

    # ------------------------------------------------------------------ tests
    def add_mapping_test(
        self,
        *,
        flow: str,
        draft: str,
        base: str,
        actor: str,
        records: int,
        summary: dict[str, Any],
        audit: AuditEvent,
    ) -> MappingTestRow:
        """Keep a test's summary (what `promote` shows), with its audit row."""
        now = datetime.now(UTC)
        text = orjson.dumps(summary).decode()
        params = (flow, draft, base, actor, self._ts(now), records, text)
        with self._guard("store mapping test"), self._write(lock=True) as tx:
            (test_id,) = tx.execute(self._q["insert_mapping_test"], params).fetchall()[0]
            event = AuditEvent(
                actor=audit.actor, action=audit.action, record_key=audit.record_key,
                diff={**audit.diff, "test": [None, int(test_id)]},
                mapping_version=audit.mapping_version, at=now,
            )  # fmt: skip
            self._append(tx, self._prepare_audit([event], now))
        return MappingTestRow(
            id=int(test_id), flow=flow, draft=draft, base=base, actor=actor, at=now,
            records=records, summary=summary,
        )  # fmt: skip

    def mapping_tests(self, flow: str, *, draft: str | None = None) -> list[MappingTestRow]:
        """A flow's mapping tests (of one draft, when given), oldest first."""
        with self._guard("read mapping tests"):
            return [self._test(r) for r in self._all("mapping_tests", (flow, draft, draft))]

    def _test(self, r: Sequence[Any]) -> MappingTestRow:
        return MappingTestRow(
            id=int(r[0]), flow=r[1], draft=r[2], base=r[3], actor=r[4], at=self._dt(r[5]),
            records=int(r[6]), summary=orjson.loads(r[7]),
        )  # fmt: skip

    # ------------------------------------------------------------------ record approvals
    def decide_record(self, row: RecordDecisionRow, *, audit: AuditEvent) -> RecordDecisionRow:
        """Keep an approver's decision on one version of a held record, with its audit row."""
        now = datetime.now(UTC)
        at = row.at or now
        params = (row.flow, row.record_key, row.version, row.rule, row.decision, row.reason,
                  row.actor, self._ts(at))  # fmt: skip
        with self._guard("record approval"), self._write(lock=True) as tx:
            (decision_id,) = tx.execute(self._q["insert_record_decision"], params).fetchall()[0]
            self._append(tx, self._prepare_audit([audit], now))
        return RecordDecisionRow(
            id=int(decision_id), flow=row.flow, record_key=row.record_key, version=row.version,
            rule=row.rule, decision=row.decision, reason=row.reason, actor=row.actor, at=at,
        )  # fmt: skip

    def record_decisions(self, flow: str, record_key: str) -> list[RecordDecisionRow]:
        """Every decision on a record in a flow, oldest first."""
        with self._guard("read approvals"):
            return [self._decision(r) for r in self._all("record_decisions", (flow, record_key))]

    def _decision(self, r: Sequence[Any]) -> RecordDecisionRow:
        return RecordDecisionRow(
            id=int(r[0]), flow=r[1], record_key=r[2], version=r[3], rule=r[4],
            decision=r[5], reason=r[6], actor=r[7], at=self._dt(r[8]),
        )  # fmt: skip

    # ------------------------------------------------------------------ snapshots
    def flow_snapshots(
        self, flow: str, *, limit: int | None = None, since: datetime | None = None
    ) -> list[RecordRow]:
        """The records `flow` has processed, newest first (their last stored snapshots)."""
        seen = self._opt_ts(since)
        lim = self._no_limit if limit is None else limit
        with self._guard("read snapshots"):
            return [self._record(r) for r in self._all("flow_snapshots", (flow, seen, seen, lim))]
