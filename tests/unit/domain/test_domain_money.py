"""Money: exact, one currency at a time, never a lost or created minor unit."""

from __future__ import annotations

import dataclasses
import decimal
import pickle
from decimal import Decimal
from fractions import Fraction

import pytest
from babel.numbers import get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

from billbridge.domain import (
    MAX_DIGITS,
    CurrencyError,
    CurrencyMismatchError,
    Money,
    MoneyError,
    is_currency,
    minor_units,
    total,
)
from billbridge.domain.money import _currency_table

CURRENCIES = sorted(_currency_table())


def eur(text: str) -> Money:
    return Money(amount=Decimal(text), currency="EUR")


# -- construction --------------------------------------------------------------------


def test_a_decimal_at_the_minor_unit_is_kept() -> None:
    m = Money(amount=Decimal("19.99"), currency="EUR")
    assert m.amount == Decimal("19.99")
    assert m.currency == "EUR"
    assert str(m) == "19.99 EUR"


def test_fewer_digits_are_padded_to_the_minor_unit() -> None:
    assert Money(amount=Decimal("5"), currency="EUR").amount.as_tuple().exponent == -2
    assert str(Money(amount=Decimal("5.1"), currency="KWD")) == "5.100 KWD"


@pytest.mark.parametrize("value", [19.99, 1.0, 0.0])
def test_floats_are_refused(value: float) -> None:
    with pytest.raises(MoneyError, match="float"):
        Money(amount=value, currency="EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [19, "19.99", Fraction(1, 2)])
def test_other_non_decimals_are_refused(value: object) -> None:
    with pytest.raises(MoneyError, match="must be a Decimal"):
        Money(amount=value, currency="EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_non_finite_amounts_are_refused(text: str) -> None:
    with pytest.raises(MoneyError, match="not a finite number"):
        Money(amount=Decimal(text), currency="EUR")


@pytest.mark.parametrize("code", ["eur", "EURO", "XYZ", "", "E1R"])
def test_unknown_currencies_are_refused_by_name(code: str) -> None:
    with pytest.raises(CurrencyError, match=repr(code)):
        Money(amount=Decimal(1), currency=code)
    assert not is_currency(code)


def test_a_non_string_currency_is_refused() -> None:
    with pytest.raises(CurrencyError, match=r"\['EUR'\]"):
        Money(amount=Decimal(1), currency=["EUR"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "currency"),
    [("19.999", "EUR"), ("1.5", "JPY"), ("1.2345", "KWD"), ("0.001", "USD")],
)
def test_more_digits_than_the_currency_are_refused(text: str, currency: str) -> None:
    with pytest.raises(MoneyError, match=rf"{text} {currency} has more digits.*Money.rounded"):
        Money(amount=Decimal(text), currency=currency)


def test_amounts_beyond_max_digits_are_refused_not_rounded() -> None:
    largest = Decimal("9" * (MAX_DIGITS - 2) + ".99")
    assert Money(amount=largest, currency="EUR").amount == largest
    for text in ["1E+30", "1" + "0" * (MAX_DIGITS - 1) + ".00"]:
        with pytest.raises(MoneyError, match="too large"):
            Money(amount=Decimal(text), currency="EUR")
    big = Money(amount=largest, currency="EUR")
    with pytest.raises(MoneyError, match="too large"):
        big + big


def test_money_is_frozen_hashable_and_pickles() -> None:
    m = eur("1.00")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.amount = Decimal(2)  # type: ignore[misc]
    assert hash(m) == hash(eur("1"))
    assert pickle.loads(pickle.dumps(m)) == m
    assert dataclasses.replace(m, amount=Decimal("2.5")) == eur("2.50")
    with pytest.raises(MoneyError):
        dataclasses.replace(m, amount=Decimal("2.555"))


def test_thread_context_precision_does_not_change_results() -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        assert Money.from_minor(123456, "EUR").amount == Decimal("1234.56")
        assert (eur("1234.56") + eur("0.01")).amount == Decimal("1234.57")
        assert eur("1234.56").minor == 123456
        assert (-eur("1234.56")).amount == Decimal("-1234.56")


# -- minor units ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [(1999, "EUR", "19.99"), (500, "JPY", "500"), (1234, "KWD", "1.234"), (-5, "EUR", "-0.05")],
)
def test_from_minor(minor: int, currency: str, expected: str) -> None:
    m = Money.from_minor(minor, currency)
    assert m.amount == Decimal(expected)
    assert str(m) == f"{expected} {currency}"
    assert m.minor == minor


@pytest.mark.parametrize("value", [19.99, "1999", Decimal(1999), True])
def test_from_minor_wants_an_int(value: object) -> None:
    with pytest.raises(MoneyError, match="integer"):
        Money.from_minor(value, "EUR")  # type: ignore[arg-type]


def test_minor_units_of_well_known_currencies() -> None:
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("KWD")) == (2, 0, 3)
    with pytest.raises(CurrencyError, match="'ZZZ'"):
        minor_units("ZZZ")


def test_the_table_is_not_empty_and_holds_iso_codes_only() -> None:
    assert len(CURRENCIES) > 100
    assert {"EUR", "USD", "JPY", "KWD", "CHF", "GBP"} <= set(CURRENCIES)
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in CURRENCIES)


@pytest.mark.parametrize("currency", CURRENCIES)
def test_minor_units_match_babel(currency: str) -> None:
    assert minor_units(currency) == get_currency_precision(currency)


@given(
    currency=st.sampled_from(CURRENCIES),
    minor=st.integers(min_value=-(10**20), max_value=10**20),
)
def test_from_minor_and_minor_round_trip(currency: str, minor: int) -> None:
    m = Money.from_minor(minor, currency)
    assert m.minor == minor
    assert Money(amount=m.amount, currency=currency) == m
    assert m.amount.as_tuple().exponent == -minor_units(currency)


# -- rounding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.345", "2.34"), ("2.355", "2.36"), ("-2.345", "-2.34"), ("2.3449", "2.34"), (3, "3.00")],
)
def test_rounded_is_half_even_by_default(value: str | int, expected: str) -> None:
    assert Money.rounded(value, "EUR").amount == Decimal(expected)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (decimal.ROUND_HALF_UP, "2.35"),
        (decimal.ROUND_HALF_DOWN, "2.34"),
        (decimal.ROUND_DOWN, "2.34"),
        (decimal.ROUND_UP, "2.35"),
        (decimal.ROUND_CEILING, "2.35"),
        (decimal.ROUND_FLOOR, "2.34"),
    ],
)
def test_rounded_with_an_explicit_mode(mode: str, expected: str) -> None:
    assert Money.rounded(Decimal("2.345"), "EUR", rounding=mode).amount == Decimal(expected)


def test_rounded_to_each_currency() -> None:
    assert Money.rounded("1234.5", "JPY").amount == Decimal(1234)
    assert Money.rounded("1235.5", "JPY").amount == Decimal(1236)
    assert Money.rounded("1.23456", "KWD").amount == Decimal("1.235")


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (2.5, "float"),
        ("abc", "not a number"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("1E+40", "too large"),
    ],
)
def test_rounded_refuses_bad_input(value: object, match: str) -> None:
    with pytest.raises(MoneyError, match=match):
        Money.rounded(value, "EUR")  # type: ignore[arg-type]


def test_rounded_refuses_an_unknown_mode_and_currency() -> None:
    with pytest.raises(MoneyError, match="rounding mode"):
        Money.rounded("1", "EUR", rounding="HALF")
    with pytest.raises(CurrencyError, match="'eur'"):
        Money.rounded("1", "eur")


def test_times_rounds_once() -> None:
    assert eur("10.00").times(Decimal("0.19")) == eur("1.90")
    assert eur("0.25").times(Decimal("0.5")) == eur("0.12")  # 0.125, half-even
    assert eur("0.25").times(Decimal("0.5"), rounding=decimal.ROUND_HALF_UP) == eur("0.13")
    assert eur("3.00").times(3) == eur("9.00")
    with pytest.raises(MoneyError, match="float"):
        eur("1.00").times(0.5)  # type: ignore[arg-type]


# -- arithmetic and comparisons -------------------------------------------------------


def test_arithmetic_in_one_currency() -> None:
    assert eur("1.10") + eur("2.20") == eur("3.30")
    assert eur("1.10") - eur("2.20") == eur("-1.10")
    assert -eur("1.10") == eur("-1.10")
    assert abs(eur("-1.10")) == eur("1.10")
    assert total([eur("1.00"), eur("2.00")], "EUR") == eur("3.00")
    assert total([], "JPY") == Money.zero("JPY")
    assert Money.zero("KWD").amount.as_tuple().exponent == -3
    assert eur("0").is_zero()
    assert not eur("0")
    assert eur("0.01")


def test_comparisons_in_one_currency() -> None:
    assert eur("1.00") < eur("2.00") <= eur("2.00")
    assert eur("3.00") > eur("2.00") >= eur("2.00")
    assert eur("1.00") != Money(amount=Decimal(1), currency="USD")


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixed_currencies_are_refused_naming_both(op: object) -> None:
    a = eur("1.00")
    b = Money(amount=Decimal(100), currency="JPY")
    with pytest.raises(CurrencyMismatchError, match=r"EUR and JPY") as info:
        op(a, b)  # type: ignore[operator]
    assert "1.00 EUR" in str(info.value)
    assert "100 JPY" in str(info.value)


def test_total_refuses_a_foreign_amount() -> None:
    with pytest.raises(CurrencyMismatchError, match="EUR and USD"):
        total([eur("1.00"), Money(amount=Decimal(1), currency="USD")], "EUR")


def test_combining_with_a_non_money_is_refused() -> None:
    with pytest.raises(MoneyError, match="Decimal"):
        eur("1.00") + Decimal(1)  # type: ignore[operator]


# -- allocation and split -------------------------------------------------------------


def test_allocate_known_cases() -> None:
    assert eur("100.00").allocate([1, 1, 1]) == (eur("33.34"), eur("33.33"), eur("33.33"))
    assert eur("-0.05").allocate([1, 1]) == (eur("-0.03"), eur("-0.02"))
    assert eur("0.05").allocate([3, 7]) == (eur("0.02"), eur("0.03"))  # 0.015 / 0.035
    assert eur("10.00").allocate([0, 1]) == (eur("0.00"), eur("10.00"))
    assert Money.from_minor(7, "JPY").split(3) == tuple(
        Money.from_minor(n, "JPY") for n in (3, 2, 2)
    )


@pytest.mark.parametrize(
    ("ratios", "match"),
    [
        ([], "at least one"),
        ([1, -1], "negative"),
        ([0, 0], "all be zero"),
        ([0.5, 0.5], "float"),
        ([Decimal("NaN")], "finite"),
    ],
)
def test_allocate_refuses_bad_ratios(ratios: list[object], match: str) -> None:
    with pytest.raises(MoneyError, match=match):
        eur("1.00").allocate(ratios)  # type: ignore[arg-type]


@pytest.mark.parametrize("parts", [0, -1, 1.5])
def test_split_refuses_bad_part_counts(parts: object) -> None:
    with pytest.raises(MoneyError, match="at least one"):
        eur("1.00").split(parts)  # type: ignore[arg-type]


amounts_in_minor = st.integers(min_value=-(10**15), max_value=10**15)
ratio_values = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False, places=6),
)
ratio_lists = st.lists(ratio_values, min_size=1, max_size=12).filter(lambda rs: sum(rs) > 0)


@given(currency=st.sampled_from(CURRENCIES), minor=amounts_in_minor, ratios=ratio_lists)
def test_allocation_sums_exactly_and_stays_within_one_unit(
    currency: str, minor: int, ratios: list[int | Decimal]
) -> None:
    whole = Money.from_minor(minor, currency)
    parts = whole.allocate(ratios)
    assert len(parts) == len(ratios)
    assert all(p.currency == currency for p in parts)
    assert total(parts, currency) == whole
    weight = sum(Fraction(r) for r in ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        share = Fraction(minor) * Fraction(ratio) / weight
        assert abs(part.minor - share) < 1
        if ratio == 0:
            assert part.is_zero()


@given(currency=st.sampled_from(CURRENCIES), minor=amounts_in_minor, n=st.integers(1, 50))
def test_split_sums_exactly_and_parts_differ_by_at_most_one_unit(
    currency: str, minor: int, n: int
) -> None:
    whole = Money.from_minor(minor, currency)
    parts = whole.split(n)
    assert len(parts) == n
    assert total(parts, currency) == whole
    units = [p.minor for p in parts]
    assert max(units) - min(units) <= 1
    for u in units:
        assert abs(u - Fraction(minor, n)) < 1
