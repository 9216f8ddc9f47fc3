"""Ratable revenue recognition: how much of an amount a service period has earned by a day.

Why one cumulative function: an annual plan paid upfront is earned day by day over its
service period (ASC 606 / IFRS 15, a service transferred evenly over time). If each
month's share were rounded on its own, twelve roundings could leave the schedule a few
minor units off the invoice. Instead `earned(amount, service, day)` rounds the *total
earned so far* once (half away from zero, to the currency's minor unit), and each
period's piece is the difference of two such totals. The pieces therefore always add
up to the amount exactly, each is within one minor unit of its exact share, and the last
period takes the remainder. The same function splits a credit note or a void into an
already earned part and a still deferred part, so every document on one line follows
one schedule.

Days are calendar days in the entity's time zone; `Service.end` is exclusive (the first
day not served), as Stripe's `period.end` is the start of the next period.

An amount converted into the entity's currency keeps its transaction amount beside it
(`original`), and a ledger such as Beancount needs both to be zero or both non-zero on
every leg. So a pair is scheduled together: the one with fewer minor units is earned by
the days, and the other follows it (its share of the same fraction, rounded half away
from zero), which keeps both exact and never leaves one side zero while the other is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from .money import Money

__all__ = [
    "Piece",
    "Service",
    "earned",
    "earned_pair",
    "month_start",
    "pieces",
    "recognized_until",
]

_DAY: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A service period: the days `start` (included) to `end` (excluded)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last(self) -> date:
        """The last day served."""
        return self.end - _DAY

    def clip(self, day: date) -> date:
        """`day` moved into [start, end]."""
        return min(max(day, self.start), self.end)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.last.isoformat()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    """What one period (a calendar month, cut to the service) earns of an amount."""

    period: str  # the month, "2026-03"
    first: date  # first day of the piece
    last: date  # last day of the piece (included)
    days: int
    amount: Money
    original: Money | None = None  # the same share of the transaction amount, if converted


def earned(amount: Money, service: Service, day: date) -> Money:
    """The part of `amount` earned by the days of `service` before `day`.

    Nothing before the start, all of it from the end on; in between, amount * days
    served / days in the service, rounded half away from zero to the minor unit (so
    earning a negative amount is exactly the negation of earning the positive one). Not
    half-even: a month's piece is the difference of two such roundings, and with ties
    rounded the same way each time the piece stays strictly within one minor unit of its
    exact share (half-even may round one tie up and the next down, a full unit apart).
    """
    if service.days <= 0:
        return amount if day >= service.end else Money.zero(amount.currency)
    served = (service.clip(day) - service.start).days
    if served == service.days:
        return amount
    if served == 0:
        return Money.zero(amount.currency)
    return Money.rounded(
        amount.amount * Decimal(served) / Decimal(service.days),
        amount.currency,
        rounding=ROUND_HALF_UP,
    )


def _follow(total: Money, part: Money, whole: Money) -> Money:
    """`total` * part / whole, rounded half away from zero (exact integer arithmetic).

    Rounding half away from zero is shift-invariant on whole units, so a `part` that
    grows by at least one unit (of a `whole` with no more units than `total`) makes the
    result grow by at least one unit too.
    """
    numerator = total.minor * part.minor
    denominator = whole.minor
    if not denominator:
        return Money.zero(total.currency)
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    numerator, denominator = abs(numerator), abs(denominator)
    return Money.from_minor(
        sign * ((2 * numerator + denominator) // (2 * denominator)), total.currency
    )


def earned_pair(
    amount: Money, original: Money | None, service: Service, day: date
) -> tuple[Money, Money | None]:
    """`earned` of an amount and of its transaction amount, both zero or both not."""
    if original is None:
        return earned(amount, service, day), None
    if abs(original.minor) <= abs(amount.minor):
        part = earned(original, service, day)
        return _follow(amount, part, original), part
    part = earned(amount, service, day)
    return part, _follow(original, part, amount)


def month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def pieces(
    amount: Money,
    service: Service,
    *,
    cut: date | None = None,
    original: Money | None = None,
) -> tuple[Piece, ...]:
    """The calendar-month pieces of what `amount` earns from `cut` (default: the start).

    `earned(amount, service, cut)` plus the pieces is `amount`, exactly: each piece is
    `earned` at its end minus `earned` at its start. With `original`, each piece carries
    its share of it the same way (see `earned_pair`).
    """
    first = service.clip(service.start if cut is None else cut)
    before, before_original = earned_pair(amount, original, service, first)
    out: list[Piece] = []
    while first < service.end:
        end = min(_next_month(first), service.end)
        after, after_original = earned_pair(amount, original, service, end)
        out.append(
            Piece(
                period=f"{first.year:04d}-{first.month:02d}",
                first=first,
                last=end - _DAY,
                days=(end - first).days,
                amount=after - before,
                original=None
                if after_original is None or before_original is None
                else after_original - before_original,
            )
        )
        first, before, before_original = end, after, after_original
    return tuple(out)


def recognized_until(service: Service, cut: date, through: date | None) -> date:
    """The first day not yet recognized once every piece ending by `through` is posted.

    A piece is due when its last day is on or before `through`; pieces are calendar
    months cut to [cut, end), so this is the start of `through + 1`'s month, or the end
    of the service once it is over, and never before `cut`.
    """
    start = service.clip(cut)
    if through is None:
        return start
    after = through + _DAY
    boundary = service.end if after >= service.end else month_start(after)
    return max(start, min(boundary, service.end))
