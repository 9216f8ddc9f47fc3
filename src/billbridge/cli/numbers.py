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

from billbridge.config import Workspace
from billbridge.domain import plural
from billbridge.engine.numbers import number_like, series_report
from billbridge.mapping.model import load_mapping

from ._common import JsonOpt, WorkspaceOpt, emit, fail, opened, say

__all__ = ["numbers_cmd"]


def numbers_cmd(
    entity: Annotated[str | None, typer.Option("--entity", help="Only this entity.")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Invoice numbers seen per entity and series: count, first, last and gaps."""
    with opened(workspace, as_json) as (ws, store):
        reports = series_report(store, entity=entity)
        if entity is not None and not reports:
            known = _entities(ws) | {r.entity for r in series_report(store)}
            if entity not in known:
                fail(
                    f"--entity: no entity {entity!r} in this workspace (entities: "
                    f"{', '.join(sorted(known)) or 'none'})",
                    as_json=as_json,
                )
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
        say(f"no invoice numbers seen yet{f' for entity {entity}' if entity else ''}")
        return
    for r in reports:
        say(f'{r.entity}  series "{r.series}": {plural(r.count, "number")}, {r.first} … {r.last}')
        for g in r.gaps:
            first, last = g.missing
            if first == last:
                what = f"{number_like(g.before, first)} is missing"
            else:
                span = f"{number_like(g.before, first)} to {number_like(g.before, last)}"
                what = f"{g.count} numbers are missing, {span}"
            say(
                f"  gap: {what} (between {g.after} and {g.before}; explain it, e.g. a deleted "
                "draft; billbridge never renumbers)"
            )


def _entities(ws: Workspace) -> set[str]:
    """The entities the workspace's mappings name."""
    names: set[str] = set()
    for flow in ws.flows:
        mapping = load_mapping(flow.mapping)
        names.add(mapping.entity)
        names.update(e.name for e in mapping.entities)
    return names
