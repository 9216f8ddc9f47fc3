"""Reconcile results as JSON: one shape for `billbridge reconcile --json` and the REST API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._flow import Reconciled

__all__ = ["reconcile_json", "unowned"]


def unowned(result: Reconciled) -> int:
    """Discrepancies neither fixed nor queued by this or an earlier reconcile.

    Informational findings (fix "none", e.g. a number gap) are nobody's to fix: not counted.
    """
    if result.fixes is not None:
        return len(result.fixes.failed)
    return sum(1 for d in result.discrepancies if not d.queued and d.fix != "none")


def reconcile_json(results: Sequence[Reconciled]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for result in results:
        for d in result.discrepancies:
            counts[d.kind] = counts.get(d.kind, 0) + 1
    return {
        "flows": [
            {
                "flow": r.flow,
                "discrepancies": [d.as_json() for d in r.discrepancies],
                **({"fixes": r.fixes.as_json()} if r.fixes is not None else {}),
                **({"deferred": r.deferred.as_json()} if r.deferred is not None else {}),
            }
            for r in results
        ],
        "counts": counts,
        "unowned": sum(unowned(r) for r in results),
    }
