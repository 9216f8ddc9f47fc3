"""The run methods of `SqlStore`: start, heartbeat, finish, close a dead run, list.

Its own module because a run's row (its owner, heartbeat and figures) is a job apart
from the batch write path and the audit chain in `_common` and `_audit_log`: the worker
and the CLI's `runs` use these, the per-record sync path does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .base import AuditEvent, RunFigures, RunOwner, RunRow, StoreError

if TYPE_CHECKING:
    from ._audit_log import PreparedAudit
    from ._common import Tx

__all__ = ["RunsMixin"]


def _now() -> datetime:
    return datetime.now(UTC)


class RunsMixin:
    """Needs the SqlStore plumbing, `RowReader._run`, `MonitorMixin._figures_params` and
    the audit chain (`AuditMixin`)."""

    if TYPE_CHECKING:  # provided by SqlStore, RowReader, MonitorMixin and AuditMixin
        _q: dict[str, str]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Tx]: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _one(self, name: str, params: Sequence[Any] = ()) -> Any: ...
        def _ts(self, at: datetime) -> Any: ...
        def _run(self, r: Sequence[Any]) -> RunRow: ...
        def _figures_params(self, run_id: int, f: RunFigures) -> tuple[Any, ...]: ...
        def _prepare_audit(
            self,
            events: Sequence[AuditEvent],
            now: datetime,
            ts: Callable[[datetime], Any] | None = None,
        ) -> list[PreparedAudit]: ...
        def _append(self, tx: Tx, events: list[PreparedAudit]) -> list[tuple[Any, ...]]: ...

    def start_run(
        self,
        *,
        flow: str,
        kind: str,
        actor: str,
        mapping_version: str = "",
        owner: RunOwner | None = None,
    ) -> RunRow:
        now = _now()
        host, pid, token = (owner.host, owner.pid, owner.token) if owner else ("", 0, "")
        with self._guard("start run"), self._write() as tx:
            params = (flow, kind, actor, self._ts(now), mapping_version, host, pid, token,
                      self._ts(now))  # fmt: skip
            (run_id,) = tx.execute(self._q["start_run"], params).fetchall()[0]
        return RunRow(
            id=run_id, flow=flow, kind=kind, actor=actor, started_at=now,
            mapping_version=mapping_version, owner=owner, heartbeat_at=now,
        )  # fmt: skip

    def finish_run(
        self,
        run_id: int,
        *,
        counts: Mapping[str, int],
        status: str,
        figures: RunFigures | None = None,
        error: str = "",
    ) -> None:
        params = (self._ts(_now()), status, orjson.dumps(dict(counts)).decode(), error, run_id)
        with self._guard("finish run"), self._write() as tx:
            if not tx.execute(self._q["finish_run"], params).fetchall():
                raise StoreError(f"no run {run_id} to finish")
            if figures is not None:
                tx.execute(self._q["run_figures_insert"], self._figures_params(run_id, figures))

    def running_runs(self, *, flow: str | None = None) -> list[RunRow]:
        with self._guard("list running runs"):
            return [self._run(r) for r in self._all("running_runs", (flow, flow))]

    def touch_run(self, run_id: int) -> None:
        with self._guard("note a run alive"), self._write() as tx:
            tx.execute(self._q["touch_run"], (self._ts(_now()), run_id))

    def close_dead_run(self, run_id: int, *, status: str, error: str, actor: str) -> bool:
        """Close a run found dead, with its audit row in the same transaction."""
        now = _now()
        with self._guard("close a dead run"), self._write(lock=True) as tx:
            found = tx.execute(
                self._q["close_dead_run"], (self._ts(now), status, error, run_id)
            ).fetchall()
            if not found:
                return False
            event = AuditEvent(
                actor=actor, action=f"run-{status}", run_id=run_id, at=now,
                diff={"status": ["running", status], "error": [None, error]},
            )  # fmt: skip
            self._append(tx, self._prepare_audit([event], now))
        return True

    def get_run(self, run_id: int) -> RunRow | None:
        with self._guard("get run"):
            row = self._one("get_run", (run_id,))
        return None if row is None else self._run(row)

    def list_runs(self, *, flow: str | None = None, limit: int = 50) -> list[RunRow]:
        with self._guard("list runs"):
            return [self._run(r) for r in self._all("list_runs", (flow, flow, limit))]
