"""Exchange rates and conversion into an entity's functional currency.

Why a table and never a live feed: the rate a posting used must be reproducible a year
later, so rates come from the mapping (or a rates file beside it) and are part of the
mapping's version. A missing rate is a refusal naming the date and the pair, never a
guess: the wrong rate is a wrong ledger that still balances.

Conversion rounds each leg once, then moves the rounding residue (at most a few minor
units) to the largest leg of the side with more legs, so a converted entry balances
exactly in the functional currency and no cent is lost or created.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from .journal import Posting
from .money import Money

__all__ = ["Rate", "RateTable", "convert_postings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    """1 `base` = `rate` `quote` on `day` (the pair is written `base/quote`, e.g. USD/EUR)."""

    day: date
    base: str
    quote: str
    rate: Decimal


@dataclass(frozen=True, slots=True)
class RateTable:
    """Rates by pair; a day without its own rate uses the latest earlier one up to `max_age`.

    `max_age` days covers weekends and bank holidays, when central banks publish no rate.
    An inverse pair (EUR/USD for a USD→EUR conversion) is used as 1/rate when the direct
    pair is absent.
    """

    rates: tuple[Rate, ...] = ()
    max_age: int = 0
    _index: dict[tuple[str, str], tuple[list[date], list[Decimal]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        grouped: dict[tuple[str, str], dict[date, Decimal]] = {}
        for r in self.rates:
            grouped.setdefault((r.base, r.quote), {})[r.day] = r.rate
        for pair, by_day in grouped.items():
            days = sorted(by_day)
            self._index[pair] = (days, [by_day[d] for d in days])

    def _lookup(self, day: date, base: str, quote: str) -> Decimal | None:
        found = self._index.get((base, quote))
        if found is None:
            return None
        days, values = found
        i = bisect_right(days, day) - 1
        if i < 0 or day - days[i] > timedelta(days=self.max_age):
            return None
        return values[i]

    def rate(self, day: date, base: str, quote: str) -> Decimal | None:
        """How many `quote` one `base` is worth on `day`, or None when the table has no rate."""
        if base == quote:
            return Decimal(1)
        direct = self._lookup(day, base, quote)
        if direct is not None:
            return direct
        inverse = self._lookup(day, quote, base)
        if inverse is None or not inverse:
            return None
        return Decimal(1) / inverse

    def pairs(self) -> Iterable[tuple[str, str]]:
        return self._index.keys()


def convert_postings(
    postings: Sequence[Posting], rates: Sequence[Decimal], functional: str
) -> tuple[list[Posting], Money]:
    """Each posting converted at its own rate, keeping the original amount.

    A posting that already carries an `original` (a payment's receivable leg stated in
    the settlement currency at the gateway's rate) is converted from that original:
    what it was in its transaction currency is what the rate applies to.

    Returns the converted postings and what they sum to in `functional`: zero when every
    leg used the same rate (the rounding residue is moved to the largest leg), otherwise
    the realized exchange difference the caller posts to a gain or loss account.
    Postings already in `functional` stay as they are.
    """
    out: list[Posting] = []
    for posting, rate in zip(postings, rates, strict=True):
        stated = posting.original or posting.amount
        if stated.currency == functional:
            out.append(
                posting
                if posting.original is None
                else Posting(
                    account=posting.account, amount=stated, memo=posting.memo, meta=posting.meta
                )
            )
            continue
        converted = Money.rounded(stated.amount * rate, functional)
        out.append(
            Posting(
                account=posting.account,
                amount=converted,
                memo=posting.memo,
                original=stated,
                meta=posting.meta,
            )
        )
    residue = sum((p.amount.amount for p in out), Decimal(0))
    if len(set(rates)) <= 1 and residue and out:
        # The side with more legs is where the rounding accumulated: its largest leg
        # takes the residue, so a single receivable stays exactly total x rate.
        big = _takes_residue(out, residue)
        leg = out[big]
        fixed = Money.rounded(leg.amount.amount - residue, functional)
        out[big] = Posting(
            account=leg.account, amount=fixed, memo=leg.memo, original=leg.original, meta=leg.meta
        )
        residue = Decimal(0)
    return out, Money.rounded(residue, functional)


def _takes_residue(out: Sequence[Posting], residue: Decimal) -> int:
    """The leg that absorbs a same-rate conversion's rounding residue.

    The largest leg of the side with more legs (the rounding accumulated there), unless
    that would turn the leg against its transaction amount (a credit of 0.001 KWD
    converted to a debit of 1 JPY): a ledger cannot state that (Beancount has no negative
    prices) and it means nothing. Then the largest leg that stays on its own side takes
    it; one always does, since the legs of the other side only grow.
    """

    debit_legs = [i for i, p in enumerate(out) if p.amount.amount > 0]
    credit_legs = [i for i, p in enumerate(out) if p.amount.amount < 0]
    side = debit_legs if len(debit_legs) > len(credit_legs) else credit_legs or debit_legs
    first = max(side, key=lambda i: abs(out[i].amount.amount))
    ordered = [first, *sorted((i for i in range(len(out)) if i != first),
                              key=lambda i: -abs(out[i].amount.amount))]  # fmt: skip
    for i in ordered:
        after = out[i].amount.amount - residue
        stated = (out[i].original or out[i].amount).amount
        if not after or (after > 0) == (stated > 0):
            return i
    return ordered[0]
