"""The day's clean-up time: how long the open queue takes a person, estimated from its causes.

Why an estimate at all: the rule of thumb this product is judged by is "clean-up takes
less than 30 minutes a day". The queue's size alone says little (fifty rows of one
missing tax rate are one edit and one replay); its causes say how much work is left.

The estimate, per open cause, is a fixed time to understand and fix it plus a time per
record, by what fixing it takes (`RATES`, documented in the README):

| the fix | per cause | per record |
|---|---|---|
| one mapping edit, then one replay of the cause (rate, product, account) | 5 min | 0.1 min |
| each record corrected in the source system (currency, totals, numbers, …) | 5 min | 3 min |
| a conflict: an entry compared with the books and corrected by hand | 5 min | 10 min |
| a line of an export repaired by hand | 5 min | 2 min |
| a write-back sent again | 3 min | 2 min |
| records waiting for one another, or retried by billbridge itself | 0 | 0 |

Records held on a record of another cause wait inside that cause and add nothing. The
trend rebuilds the queue as it stood at the end of each of the last days from the rows'
first-seen and closed times (a row re-opened later counts from its new first-seen).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from billbridge.store.base import ExceptionRow, Queue

from .causes import MAPPING_FIXES, Cause, group_causes

__all__ = ["RATES", "Cleanup", "cleanup", "cleanup_of", "minutes_for"]

# what fixing it takes → (minutes per cause, minutes per record)
RATES: Final[dict[str, tuple[float, float]]] = {
    "mapping": (5.0, 0.1),
    "source": (5.0, 3.0),
    "conflict": (5.0, 10.0),
    "line": (5.0, 2.0),
    "writeback": (3.0, 2.0),
    "waits": (0.0, 0.0),
}
TREND_DAYS: Final = 30


def _work(cause: Cause) -> str:
    if cause.code in MAPPING_FIXES:
        return "mapping"
    if cause.code in {"waiting", "held"}:
        return "waits"
    if cause.kind == "conflict":
        return "conflict"
    if cause.code == "unreadable-line":
        return "line"
    if cause.code == "writeback":
        return "writeback"
    if all(r.retryable and r.next_try_at is not None for r in cause.rows):
        return "waits"  # billbridge retries them by itself
    return "source"


def minutes_for(cause: Cause) -> float:
    per_cause, per_record = RATES[_work(cause)]
    if not per_cause and not per_record:
        return 0.0
    return per_cause + per_record * cause.count


@dataclass(slots=True, kw_only=True)
class Cleanup:
    """Today's estimate, what it is made of, and the daily estimates before it."""

    minutes: int
    causes: list[tuple[str, int, float]] = field(default_factory=list)  # cause, records, min
    trend: list[tuple[date, int]] = field(default_factory=list)  # oldest first, today last

    def as_json(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes,
            "causes": [
                {"cause": c, "records": n, "minutes": round(m, 1)} for c, n, m in self.causes
            ],
            "trend": [{"day": d.isoformat(), "minutes": m} for d, m in self.trend],
        }

    def trend_text(self) -> str:
        """The last days in a line: `12-01 95 · 12-02 40 · … · today 20` (minutes)."""
        parts = [f"{d:%m-%d} {m}" for d, m in self.trend[:-1] if m]
        parts.append(f"today {self.minutes}")
        return " · ".join(parts[-10:])


def cleanup_of(causes: Iterable[Cause]) -> Cleanup:
    """The estimate for these causes (rounded up to whole minutes)."""
    parts = [(c.cause, c.count, minutes_for(c)) for c in causes]
    parts.sort(key=lambda p: -p[2])
    return Cleanup(minutes=math.ceil(sum(m for _, _, m in parts)), causes=parts)


def _open_at(rows: Sequence[ExceptionRow], moment: datetime) -> list[ExceptionRow]:
    return [
        r
        for r in rows
        if r.first_seen is not None
        and r.first_seen <= moment
        and (r.closed_at is None or r.closed_at > moment)
    ]


def cleanup(store: Queue, *, now: datetime | None = None, days: int = TREND_DAYS) -> Cleanup:
    """Today's estimate from the open queue, and one per day for the `days` before
    (`days=1`: today's alone, from the open rows only: what /metrics and alerts need)."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    if days <= 1:
        result = cleanup_of(group_causes(store.open_exceptions()))
        result.trend = [(today, result.minutes)]
        return result
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=UTC)
    history = store.exceptions_since(since)
    result = cleanup_of(group_causes([r for r in history if r.status == "open"]))
    trend = []
    for offset in range(days - 1):
        day = first + timedelta(days=offset)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        trend.append((day, cleanup_of(group_causes(_open_at(history, end))).minutes))
    result.trend = [*trend, (today, result.minutes)]
    return result
