"""Store methods for monitoring (issue 6): findings, aggregate counts, run figures, incidents.

Why a mixin with its own SQL file (`queries_monitor.sql`): these change with what
operators want to see, not with the sync path, and keeping them apart keeps the core
store small. Findings are kept so a discrepancy has an age (first seen) across
reconciles; incidents so an alert is sent once when it opens and once when it clears.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .base import DiscrepancyRow, InboxCounts, IncidentRow, MonitorCounts, RunCost, RunFigures

if TYPE_CHECKING:
    from ._common import Tx

__all__ = ["MonitorMixin"]


class MonitorMixin:
    """Needs the SqlStore plumbing (`_q`, `_guard`, `_write`, `_all`, `_ts`, `_dt`)."""

    if TYPE_CHECKING:
        _q: dict[str, str]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Tx]: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _ts(self, at: datetime) -> Any: ...
        def _dt(self, value: Any) -> datetime: ...

    def _opt_dt(self, value: Any) -> datetime | None:
        return None if value is None else self._dt(value)

    def _discrepancy(self, r: Sequence[Any]) -> DiscrepancyRow:
        return DiscrepancyRow(
            id=r[0], flow=r[1], kind=r[2], record_key=r[3], idempotency_key=r[4], owner=r[5],
            fix=r[6], detail=r[7], first_seen=self._dt(r[8]), last_seen=self._dt(r[9]),
            status=r[10], resolved_at=self._opt_dt(r[11]),
        )  # fmt: skip

    def save_discrepancies(
        self, flow: str, rows: Sequence[DiscrepancyRow], *, at: datetime
    ) -> None:
        """Upsert what this reconcile found; resolve the flow's open rows it no longer finds."""
        ts = self._ts(at)
        params = [
            (flow, r.kind, r.record_key, r.idempotency_key, r.owner, r.fix, r.detail, ts, ts)
            for r in rows
        ]
        current = {(r.kind, r.idempotency_key) for r in rows}
        with self._guard("save discrepancies"), self._write() as tx:
            if params:
                tx.executemany(self._q["discrepancy_upsert"], params)
            open_rows = tx.execute(self._q["discrepancy_keys_open"], (flow,)).fetchall()
            gone = [(ts, r[0]) for r in open_rows if (r[1], r[2]) not in current]
            if gone:
                tx.executemany(self._q["discrepancy_resolve"], gone)

    def open_discrepancies(self, *, flow: str | None = None) -> list[DiscrepancyRow]:
        with self._guard("read discrepancies"):
            return [self._discrepancy(r) for r in self._all("open_discrepancies", (flow, flow))]

    def discrepancies_since(self, since: datetime) -> list[DiscrepancyRow]:
        ts = self._ts(since)
        with self._guard("read discrepancies"):
            return [self._discrepancy(r) for r in self._all("discrepancies_since", (ts, ts))]

    def monitor_counts(self) -> MonitorCounts:
        with self._guard("count for monitoring"):
            posted = {r[0]: (int(r[1]), int(r[2])) for r in self._all("monitor_posted")}
            queue = {
                (r[0], r[1]): (int(r[2]), self._opt_dt(r[3]), int(r[4] or 0), int(r[5] or 0))
                for r in self._all("monitor_queue")
            }
            attempts = {(r[0], r[1]): int(r[2]) for r in self._all("monitor_attempts")}
            last = {r[0]: self._dt(r[1]) for r in self._all("monitor_last_success") if r[1]}
            figures = {
                r[0]: (int(r[1]), _figures(r[2:6])) for r in self._all("monitor_run_figures")
            }
            cost = {
                r[0]: RunCost(run_id=int(r[1]), started_at=self._dt(r[2]),
                              finished_at=self._dt(r[3]), figures=_figures(r[4:8]))
                for r in self._all("monitor_last_run_figures")
            }  # fmt: skip
            inbox = self._inbox_counts()
        return MonitorCounts(
            posted=posted, queue=queue, attempts=attempts, last_success=last, figures=figures,
            last_cost=cost, inbox=inbox,
        )  # fmt: skip

    def _inbox_counts(self) -> dict[str, InboxCounts]:
        newest = {r[0]: (int(r[1]), self._dt(r[2])) for r in self._all("monitor_inbox_newest")}
        found = {}
        for conn, received, pending, oldest, _ in self._all("monitor_inbox"):
            created, at = newest.get(conn, (None, None))
            found[conn] = InboxCounts(
                received=int(received), pending=int(pending or 0),
                oldest_pending_received_at=self._opt_dt(oldest), newest_received_at=at,
                newest_created=created,
            )  # fmt: skip
        return found

    def _figures_params(self, run_id: int, f: RunFigures) -> tuple[Any, ...]:
        seconds = round(f.rate_limit_wait_seconds, 3)
        return (run_id, f.requests, f.rate_limit_waits, seconds, f.throttled)

    def run_figures(self, run_id: int) -> RunFigures | None:
        """What reading cost this run, as its source counted it (None: it counted nothing)."""
        with self._guard("read run figures"):
            rows = self._all("run_figures_get", (run_id,))
        return _figures(rows[0]) if rows else None

    def posted_since(self, since: datetime) -> dict[str, tuple[int, int]]:
        """flow -> (records posted, postings) since `since`."""
        with self._guard("count postings"):
            rows = self._all("monitor_posted_since", (self._ts(since),))
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def _incident(self, r: Sequence[Any]) -> IncidentRow:
        return IncidentRow(
            id=r[0], rule=r[1], subject=r[2], detail=r[3], opened_at=self._dt(r[4]),
            notified_at=self._opt_dt(r[5]), resolved_at=self._opt_dt(r[6]),
            resolved_notified_at=self._opt_dt(r[7]), status=r[8],
        )  # fmt: skip

    def pending_incidents(self) -> list[IncidentRow]:
        """Open incidents, and resolved ones whose resolution message is not sent yet."""
        with self._guard("read incidents"):
            return [self._incident(r) for r in self._all("incidents_pending")]

    def open_incident(self, *, rule: str, subject: str, detail: str, at: datetime) -> int:
        with self._guard("open incident"), self._write() as tx:
            rows = tx.execute(
                self._q["incident_insert"], (rule, subject, detail, self._ts(at))
            ).fetchall()
        return int(rows[0][0])

    def mark_incident(
        self,
        incident_id: int,
        *,
        notified_at: datetime | None = None,
        resolved_at: datetime | None = None,
        resolved_notified_at: datetime | None = None,
    ) -> None:
        opt = [None if t is None else self._ts(t) for t in (notified_at, resolved_at)]
        done = None if resolved_notified_at is None else self._ts(resolved_notified_at)
        with self._guard("update incident"), self._write() as tx:
            tx.execute(self._q["incident_mark"], (opt[0], opt[1], done, opt[1], incident_id))


def _figures(r: Sequence[Any]) -> RunFigures:
    return RunFigures(
        requests=int(r[0] or 0), rate_limit_waits=int(r[1] or 0),
        rate_limit_wait_seconds=float(r[2] or 0.0), throttled=int(r[3] or 0),
    )  # fmt: skip
