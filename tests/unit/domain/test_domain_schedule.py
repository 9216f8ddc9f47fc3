"""Ratable recognition: pieces add up to the amount exactly, in 0-, 2- and 3-decimal currencies."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billbridge.domain import (
    Money,
    Service,
    earned,
    earned_pair,
    minor_units,
    pieces,
    recognized_until,
)

CURRENCIES = ("JPY", "EUR", "KWD")  # 0, 2 and 3 minor units

minor_amounts = st.integers(min_value=-(10**12), max_value=10**12)
starts = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
lengths = st.integers(min_value=1, max_value=800)


@given(
    currency=st.sampled_from(CURRENCIES),
    minor=minor_amounts,
    start=starts,
    days=lengths,
    cut_offset=st.integers(min_value=-40, max_value=840),
)
def test_the_earned_part_and_the_pieces_add_up_to_the_amount_exactly(
    currency: str, minor: int, start: date, days: int, cut_offset: int
) -> None:
    amount = Money.from_minor(minor, currency)
    service = Service(start=start, end=start + timedelta(days=days))
    cut = start + timedelta(days=cut_offset)
    parts = pieces(amount, service, cut=cut)
    total = earned(amount, service, cut)
    for piece in parts:
        total = total + piece.amount
    assert total == amount
    # the pieces tile the rest of the service, month by month, and no piece is off its
    # exact share by a minor unit or more
    assert sum(p.days for p in parts) == (service.end - service.clip(cut)).days
    unit = Decimal(1).scaleb(-minor_units(currency))
    for piece in parts:
        exact = amount.amount * Decimal(piece.days) / Decimal(days)
        assert abs(piece.amount.amount - exact) < unit
        assert piece.first.month == piece.last.month and piece.first <= piece.last


@given(currency=st.sampled_from(CURRENCIES), minor=minor_amounts, start=starts, days=lengths)
def test_a_negative_amount_earns_exactly_the_negation(
    currency: str, minor: int, start: date, days: int
) -> None:
    amount = Money.from_minor(minor, currency)
    service = Service(start=start, end=start + timedelta(days=days))
    assert [p.amount for p in pieces(-amount, service)] == [
        -p.amount for p in pieces(amount, service)
    ]


def test_an_annual_plan_earns_each_month_by_its_days_and_the_last_takes_the_remainder() -> None:
    service = Service(start=date(2026, 1, 1), end=date(2027, 1, 1))
    parts = pieces(Money.from_minor(100_000, "EUR"), service)  # 1,000.00 EUR over 365 days
    assert [p.period for p in parts] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert [p.days for p in parts] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    # January: 1000 * 31/365 = 84.93; February: (1000 * 59/365 = 161.64) - 84.93 = 76.71
    assert parts[0].amount == Money(amount=Decimal("84.93"), currency="EUR")
    assert parts[1].amount == Money(amount=Decimal("76.71"), currency="EUR")
    assert parts[-1].amount == Money(amount=Decimal("84.93"), currency="EUR")
    assert parts[0].last == date(2026, 1, 31) and parts[-1].last == date(2026, 12, 31)


def test_a_period_that_starts_mid_month_has_a_short_first_and_last_piece() -> None:
    service = Service(start=date(2026, 1, 15), end=date(2027, 1, 15))
    parts = pieces(Money.from_minor(36_500, "JPY"), service)  # 100 yen a day
    assert (parts[0].period, parts[0].days, parts[0].amount.minor) == ("2026-01", 17, 1_700)
    assert (parts[-1].period, parts[-1].days, parts[-1].amount.minor) == ("2027-01", 14, 1_400)
    assert len(parts) == 13


def test_a_cut_splits_what_is_earned_from_what_is_left() -> None:
    service = Service(start=date(2026, 1, 1), end=date(2027, 1, 1))
    amount = Money.from_minor(1_200_000, "KWD")  # 1,200.000 KWD
    # a credit note dated 10 April: the 99 days before it are earned
    assert earned(amount, service, date(2026, 4, 10)).minor == 325_479  # 1200 * 99/365
    rest = pieces(amount, service, cut=date(2026, 4, 10))
    assert rest[0].period == "2026-04" and rest[0].first == date(2026, 4, 10)
    assert earned(amount, service, date(2025, 12, 1)).is_zero()
    assert earned(amount, service, date(2027, 3, 1)) == amount
    assert pieces(amount, service, cut=date(2027, 3, 1)) == ()


def test_what_is_recognized_through_a_date_stops_at_the_last_whole_month() -> None:
    service = Service(start=date(2026, 1, 15), end=date(2027, 1, 15))
    start = service.start
    assert recognized_until(service, start, None) == start
    assert recognized_until(service, start, date(2026, 1, 30)) == start  # January not over
    assert recognized_until(service, start, date(2026, 1, 31)) == date(2026, 2, 1)
    assert recognized_until(service, start, date(2026, 3, 15)) == date(2026, 3, 1)
    assert recognized_until(service, start, date(2027, 1, 14)) == service.end
    assert recognized_until(service, date(2026, 3, 20), date(2026, 3, 31)) == date(2026, 4, 1)
    assert recognized_until(service, date(2026, 3, 20), date(2026, 3, 25)) == date(2026, 3, 20)


@given(
    currency=st.sampled_from(CURRENCIES),
    original_currency=st.sampled_from(CURRENCIES),
    minor=st.integers(min_value=1, max_value=10**9),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(500), places=4),
    sign=st.sampled_from((1, -1)),
    start=starts,
    days=lengths,
    cut_offset=st.integers(min_value=-40, max_value=840),
)
def test_a_converted_amount_and_its_original_are_scheduled_together(
    currency: str,
    original_currency: str,
    minor: int,
    rate: Decimal,
    sign: int,
    start: date,
    days: int,
    cut_offset: int,
) -> None:
    original = Money.from_minor(sign * minor, original_currency)
    amount = Money.rounded(original.amount * rate, currency)
    if amount.is_zero():
        return  # a conversion never posts a zero leg with a non-zero original
    service = Service(start=start, end=start + timedelta(days=days))
    cut = start + timedelta(days=cut_offset)
    done, done_original = earned_pair(amount, original, service, cut)
    assert done_original is not None and done.is_zero() == done_original.is_zero()
    for piece in pieces(amount, service, cut=cut, original=original):
        assert piece.original is not None
        # a Beancount leg `0.00 USD @@ 0.01 EUR` would not balance: never one side only
        assert piece.amount.is_zero() == piece.original.is_zero()
        assert (piece.amount.amount * sign >= 0) and (piece.original.amount * sign >= 0)
        done, done_original = done + piece.amount, done_original + piece.original
    assert (done, done_original) == (amount, original)
    negated = pieces(-amount, service, cut=cut, original=-original)
    assert [(p.amount, p.original) for p in negated] == [
        (-p.amount, -p.original if p.original is not None else None)
        for p in pieces(amount, service, cut=cut, original=original)
    ]
