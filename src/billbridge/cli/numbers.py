"""`billbridge numbers`: invoice-number series per entity, with their gaps.

A thin shell over `engine.numbers.series_report`. Gaps are reported, not failures (a
deleted draft leaves a legitimate one), so the command exits 0 when it could read the
store; duplicates are failed records and show in `billbridge queue`. `billbridge
reconcile` reports both against the source as it is now (`number_gap`, `number_duplicate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billbridge.engine.numbers import series_report

from ._common import JsonOpt, WorkspaceOpt, emit, opened, out

__all__ = ["numbers_cmd"]


def numbers_cmd(
    entity: Annotated[str | None, typer.Option("--entity", help="Only this entity.")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Invoice numbers seen per entity and series: count, first, last and gaps."""
    with opened(workspace, as_json) as (_ws, store):
        reports = series_report(store, entity=entity)
    if as_json:
        emit(
            {
                "series": [
                    {
                        "entity": r.entity,
                        "series": r.series,
                        "count": r.count,
                        "first": r.first,
                        "last": r.last,
                        "gaps": [
                            {"after": g.after, "before": g.before, "missing": list(g.missing)}
                            for g in r.gaps
                        ],
                    }
                    for r in reports
                ]
            }
        )
        return
    if not reports:
        out.print("no invoice numbers seen yet")
        return
    for r in reports:
        out.print(
            f"{r.entity}  series {r.series!r}: {r.count} numbers, {r.first} … {r.last}",
            highlight=False,
            markup=False,
        )
        for g in r.gaps:
            first, last = g.missing
            span = str(first) if first == last else f"{first} to {last}"
            out.print(
                f"  gap: {span} missing between {g.after} and {g.before} "
                "(explain it, e.g. a deleted draft; billbridge never renumbers)",
                highlight=False,
                markup=False,
            )
