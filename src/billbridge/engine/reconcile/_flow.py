"""One flow's reconcile: collect, compare, keep the findings, and fix when asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from billbridge.store.base import (
    DiscrepancyRow,
    Monitor,
    SyncState,
)

from ..crashpoints import crashpoint
from ..deferred_status import DeferredStatus
from ..model import FlowRuntime
from ._checks import compare
from ._collect import collect
from ._fix import FixReport, apply_fixes
from ._model import Discrepancy
from ._scratch import Scratch


class ReconcileState(SyncState, Monitor, Protocol):
    """Reconcile runs the record path for its fixes and keeps its findings (monitor)."""


@dataclass(slots=True, kw_only=True)
class Reconciled:
    flow: str
    discrepancies: list[Discrepancy]
    fixes: FixReport | None = None
    deferred: DeferredStatus | None = None  # deferred balances vs schedules, if it defers


def reconcile_flow(
    flow: FlowRuntime, store: ReconcileState, *, fix: bool = False, actor: str = "system"
) -> Reconciled:
    """Compare one flow's three views; with `fix`, apply the certain fixes, queue the rest.

    The views live in a scratch file for the length of this call (`_scratch`).
    """
    with Scratch() as scratch:
        views, raws = collect(flow, store, scratch)
        crashpoint("reconcile-collected")  # the scratch file is full: a kill leaves it behind
        found = compare(views)
        result = Reconciled(flow=flow.name, discrepancies=found, deferred=views.deferred)
        now = datetime.now(UTC)
        store.save_discrepancies(flow.name, _rows(found), at=now)
        first_seen = {
            (row.kind, row.idempotency_key): row.first_seen
            for row in store.open_discrepancies(flow=flow.name)
        }
        found = [
            replace(d, since=first_seen.get((d.kind, d.idempotency_key)) or d.since) for d in found
        ]
        result.discrepancies = found
        if fix:
            result.fixes = apply_fixes(flow, store, views, found, raws, actor=actor)
            left = [
                d
                for d in found
                if d.fix not in {"post", "reverse"} or d.idempotency_key not in result.fixes.healed
            ]
            store.save_discrepancies(flow.name, _rows(left), at=datetime.now(UTC))
    return result


def _rows(found: Sequence[Discrepancy]) -> list[DiscrepancyRow]:
    return [
        DiscrepancyRow(
            flow=d.flow,
            kind=d.kind,
            record_key=d.record_key,
            idempotency_key=d.idempotency_key,
            owner=d.owner,
            fix="queued" if d.queued else d.fix,
            detail=d.detail,
        )
        for d in found
    ]
