"""A small bar chart of records by outcome per run, drawn as inline SVG geometry.

Why by hand: the chart is a dozen rectangles; a charting library (and a JS build step)
would outweigh it. This module computes only numbers; the template draws them, so
every label passes through Jinja's escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from billbridge.engine.model import OUTCOMES
from billbridge.store.base import RunRow

__all__ = ["COLOURS", "Bar", "Segment", "outcome_bars"]

COLOURS = {
    "synced": "#2e7d32",
    "unchanged": "#90a4ae",
    "failed": "#c62828",
    "held": "#f9a825",
    "conflict": "#6a1b9a",
}
HEIGHT = 120.0
BAR_WIDTH = 18.0
GAP = 6.0


@dataclass(frozen=True, slots=True)
class Segment:
    outcome: str
    count: int
    y: float
    height: float
    colour: str


@dataclass(frozen=True, slots=True)
class Bar:
    run: int
    label: str  # when the run started, for the tooltip
    x: float
    segments: tuple[Segment, ...]


def outcome_bars(runs: Sequence[RunRow]) -> tuple[list[Bar], float]:
    """Stacked bars, oldest run first, scaled to the busiest run; returns (bars, width)."""
    ordered = sorted(runs, key=lambda r: r.id)
    peak = max((sum(r.counts.get(o, 0) for o in OUTCOMES) for r in ordered), default=0) or 1
    bars = []
    for index, run in enumerate(ordered):
        y = HEIGHT
        segments = []
        for outcome in OUTCOMES:
            count = int(run.counts.get(outcome, 0))
            if not count:
                continue
            height = HEIGHT * count / peak
            y -= height
            segments.append(
                Segment(outcome, count, round(y, 2), round(height, 2), COLOURS[outcome])
            )
        label = run.started_at.strftime("%Y-%m-%d %H:%M UTC")
        bars.append(Bar(run.id, label, index * (BAR_WIDTH + GAP), tuple(segments)))
    return bars, max(len(ordered) * (BAR_WIDTH + GAP), BAR_WIDTH)
