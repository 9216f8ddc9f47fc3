"""Money: a Decimal amount bound to an ISO 4217 currency, exact to the currency's minor unit.

Why a value of its own: a ledger that adds yen to euros, or loses a cent when it splits
tax across lines, is wrong in a way no trial balance shows. Every amount billbridge
posts is a `Money`, so those mistakes are refused where they happen, with a message
that names both currencies, instead of surfacing weeks later in a reconciliation.

An amount is always held at the currency's minor unit (EUR 2, JPY 0, KWD 3). Amounts
with more digits (unit prices, FX conversions) are plain Decimals until they are
rounded into Money with an explicit rounding mode.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import cache
from typing import Final

from babel.core import get_global

__all__ = [
    "DEFAULT_ROUNDING",
    "MAX_DIGITS",
    "ROUNDING_MODES",
    "CurrencyError",
    "CurrencyMismatchError",
    "Money",
    "MoneyError",
    "format_minor",
    "is_currency",
    "minor_units",
    "total",
]

DEFAULT_ROUNDING: Final = ROUND_HALF_EVEN

MAX_DIGITS: Final = 28
"""Significant digits a Money may hold: Decimal's default precision, so that adding,
subtracting and negating amounts in the default context is exact (a sum that would need
more digits is refused, never silently rounded)."""

ROUNDING_MODES: Final = frozenset(
    {
        decimal.ROUND_05UP,
        decimal.ROUND_CEILING,
        decimal.ROUND_DOWN,
        decimal.ROUND_FLOOR,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_UP,
        decimal.ROUND_UP,
    }
)
"""The `rounding=` values `Money.rounded` and `Money.times` accept (the `decimal` modes)."""

_ZERO: Final = Decimal(0)


class MoneyError(ValueError):
    """A money amount cannot be built or combined as asked."""


class CurrencyError(MoneyError):
    """Not an ISO 4217 currency code."""


class CurrencyMismatchError(MoneyError):
    """Two amounts in different currencies were combined."""


@cache
def _currency_table() -> dict[str, int]:
    """ISO 4217 codes babel knows, with their minor units (CLDR's `currency_fractions`)."""
    fractions: Mapping[str, tuple[int, int, int, int]] = get_global("currency_fractions")
    default = fractions["DEFAULT"][0]
    codes: set[str] = set()
    for per_region in get_global("territory_currencies").values():
        codes.update(code for code, *_ in per_region)
    codes.update(code for code in fractions if code != "DEFAULT")
    # ISO 4217 codes are three upper-case letters; CLDR also lists a few historic codes.
    return {
        code: fractions.get(code, (default,))[0]
        for code in codes
        if len(code) == 3 and code.isalpha() and code.isupper()
    }


# Precomputed per currency, because Money is built millions of times per run:
# the minor units, the quantum (Decimal("0.01") for EUR) and the largest `adjusted()`
# exponent an amount may have and still fit in MAX_DIGITS at that quantum.
_MINOR_UNITS: Final[dict[str, int]] = dict(_currency_table())
_QUANTA: Final[dict[str, Decimal]] = {
    code: Decimal(1).scaleb(-units) for code, units in _MINOR_UNITS.items()
}
_ZEROS: Final[dict[str, Decimal]] = {
    code: _ZERO.scaleb(-units) for code, units in _MINOR_UNITS.items()
}
_MAX_ADJUSTED: Final[dict[str, int]] = {
    code: MAX_DIGITS - units - 1 for code, units in _MINOR_UNITS.items()
}
_FAST_CHECK: Final[dict[str, tuple[Decimal, int]]] = {
    code: (_QUANTA[code], _MAX_ADJUSTED[code]) for code in _MINOR_UNITS
}
# Exact for every amount Money can hold, whatever the caller's thread context is.
_CONTEXT: Final = decimal.Context(prec=MAX_DIGITS, rounding=ROUND_HALF_EVEN)
# Never rounds: for products, whose digits are bounded by their operands'.
_UNBOUNDED: Final = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
)


def is_currency(code: str) -> bool:
    """True when `code` is an ISO 4217 code (upper case, as printed in a ledger)."""
    return isinstance(code, str) and code in _MINOR_UNITS


def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (EUR 2, JPY 0, KWD 3)."""
    try:
        return _MINOR_UNITS[currency]
    except (KeyError, TypeError):
        raise CurrencyError(_currency_message(currency)) from None


def format_minor(minor: int, currency: str) -> str:
    """A count of minor units as people read it: `1999, "EUR"` -> "19.99 EUR".

    For reports, never for arithmetic; an unknown currency is written as it came.
    """
    try:
        return f"{Decimal(minor).scaleb(-minor_units(currency)):f} {currency}"
    except CurrencyError:
        return f"{minor} {currency} (minor units)"


def _quantum(currency: str) -> Decimal:
    try:
        return _QUANTA[currency]
    except (KeyError, TypeError):
        raise CurrencyError(_currency_message(currency)) from None


def _currency_message(currency: object) -> str:
    return f"{currency!r} is not an ISO 4217 currency code (expected three letters such as EUR)"


def _exact_amount(amount: object, currency: object) -> Decimal:
    """The slow path of `Money.__init__`: the amount checked and held at the minor unit."""
    if type(amount) is not Decimal:
        raise MoneyError(
            f"amount must be a Decimal, got {type(amount).__name__} "
            f"{amount!r} (money is never a float)"
        )
    if not amount.is_finite():
        raise MoneyError(f"amount {amount} is not a finite number")
    if not isinstance(currency, str) or currency not in _QUANTA:
        raise CurrencyError(_currency_message(currency))
    units = _MINOR_UNITS[currency]
    if amount and amount.adjusted() > _MAX_ADJUSTED[currency]:
        raise MoneyError(
            f"{amount} {currency} is too large: Money holds at most {MAX_DIGITS} digits "
            f"({MAX_DIGITS - units} before the decimal point in {currency})"
        )
    exact = amount.quantize(_QUANTA[currency], context=_CONTEXT)
    if exact != amount:
        raise MoneyError(
            f"{amount} {currency} has more digits than the currency's "
            f"{units} minor units; round it with Money.rounded()"
        )
    return exact


def _to_decimal(value: object, what: str) -> Decimal:
    """A Decimal from a Decimal, int or numeric string; floats and non-numbers refused."""
    if isinstance(value, float):
        raise MoneyError(f"{what} must not be a float ({value!r}); pass a Decimal or str")
    if not isinstance(value, Decimal | int | str):
        raise MoneyError(f"{what} must be a Decimal, int or str, got {type(value).__name__}")
    try:
        result = Decimal(value)
    except decimal.InvalidOperation:
        raise MoneyError(f"{what} {value!r} is not a number") from None
    if not result.is_finite():
        raise MoneyError(f"{what} {value!r} is not a finite number")
    return result


@dataclass(frozen=True, slots=True, init=False)
class Money:
    """An exact amount of one currency; `Money(amount=Decimal("19.99"), currency="EUR")`.

    The amount must already be exact at the currency's minor unit: use `Money.rounded`
    for amounts that need rounding, `Money.from_minor` for Stripe-style integers.
    """

    amount: Decimal
    currency: str

    def __init__(self, amount: Decimal, currency: str) -> None:
        # Hand-written instead of the dataclass __init__ (frozen: ~0.2 µs more):
        # the common case (a Decimal already at the currency's exponent) takes the fast
        # path; anything else goes through `_exact_amount`, which checks everything and
        # says what is wrong. Both paths accept and refuse exactly the same values.
        try:
            quantum, top = _FAST_CHECK[currency]
        except (KeyError, TypeError):
            amount = _exact_amount(amount, currency)
        else:
            if (
                type(amount) is not Decimal
                or not amount.same_quantum(quantum)
                or amount.adjusted() > top
            ):
                amount = _exact_amount(amount, currency)
        _SET_AMOUNT(self, amount)
        _SET_CURRENCY(self, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        try:
            amount = _ZEROS[currency]
        except (KeyError, TypeError):
            raise CurrencyError(_currency_message(currency)) from None
        return cls(amount=amount, currency=currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """Build from an integer count of minor units: 1999 EUR → 19.99, 500 JPY → 500."""
        if type(minor) is not int:
            raise MoneyError(f"minor units must be an integer, got {minor!r}")
        amount = Decimal(minor).scaleb(-minor_units(currency), _CONTEXT)
        return cls(amount=amount, currency=currency)

    @classmethod
    def rounded(
        cls, amount: Decimal | int | str, currency: str, *, rounding: str = DEFAULT_ROUNDING
    ) -> Money:
        """Round `amount` to the currency's minor unit (half-even unless told otherwise)."""
        value = _to_decimal(amount, "amount")
        quantum = _quantum(currency)
        if rounding not in ROUNDING_MODES:
            raise MoneyError(f"{rounding!r} is not a decimal rounding mode (e.g. ROUND_HALF_UP)")
        if value and value.adjusted() > _MAX_ADJUSTED[currency]:
            raise MoneyError(
                f"{value} {currency} is too large: Money holds at most {MAX_DIGITS} digits"
            )
        return cls(
            amount=value.quantize(quantum, rounding=rounding, context=_CONTEXT), currency=currency
        )

    @property
    def minor(self) -> int:
        """The amount as an integer count of minor units (the inverse of `from_minor`)."""
        return int(self.amount.scaleb(_MINOR_UNITS[self.currency], _CONTEXT))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise MoneyError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self} with {other}: different currencies "
                f"({self.currency} and {other.currency}); convert one first"
            )

    def __add__(self, other: Money) -> Money:
        if type(other) is not Money or other.currency != self.currency:
            self._same(other)
        return _exact_result(self.amount + other.amount, self, other, _CONTEXT.add)

    def __sub__(self, other: Money) -> Money:
        if type(other) is not Money or other.currency != self.currency:
            self._same(other)
        return _exact_result(self.amount - other.amount, self, other, _CONTEXT.subtract)

    def __neg__(self) -> Money:
        # Negating keeps the digits and the exponent, so the result needs no check.
        return _trusted(_CONTEXT.minus(self.amount), self.currency)

    def __abs__(self) -> Money:
        return _trusted(_CONTEXT.abs(self.amount), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def __str__(self) -> str:
        return f"{self.amount:f} {self.currency}"

    def is_zero(self) -> bool:
        return not self.amount

    def times(self, factor: Decimal | int, *, rounding: str = DEFAULT_ROUNDING) -> Money:
        """Multiply by a rate or quantity and round once, explicitly."""
        value = _to_decimal(factor, "factor")
        # The exact product (no context rounding), then one rounding to the minor unit.
        return Money.rounded(
            _UNBOUNDED.multiply(self.amount, value), self.currency, rounding=rounding
        )

    def allocate(self, ratios: Sequence[Decimal | int]) -> tuple[Money, ...]:
        """Split into parts proportional to `ratios`; the parts always add up to `self`.

        Uses the largest-remainder method on minor units: each part gets the floor of its
        exact share, and the leftover units go one each to the parts with the largest
        remainders (earliest first on ties), so no unit is lost or created. The shares
        are computed with exact fractions, so it holds for any ratios, however precise.
        """
        if not ratios:
            raise MoneyError("allocate needs at least one ratio")
        weights = [Fraction(_to_decimal(r, "allocation ratio")) for r in ratios]
        if any(w < 0 for w in weights):
            raise MoneyError("allocation ratios must not be negative")
        total_weight = sum(weights, Fraction(0))
        if not total_weight:
            raise MoneyError("allocation ratios must not all be zero")
        negative = self.amount < 0
        units = abs(self.minor)
        exact = [units * w / total_weight for w in weights]
        floors = [int(e) for e in exact]  # e >= 0, so int() is the floor
        leftover = units - sum(floors)
        order = sorted(range(len(exact)), key=lambda i: (floors[i] - exact[i], i))
        for i in order[:leftover]:
            floors[i] += 1
        return tuple(Money.from_minor(-f if negative else f, self.currency) for f in floors)

    def split(self, parts: int) -> tuple[Money, ...]:
        """Split into `parts` near-equal amounts that add up to `self`."""
        if type(parts) is not int or parts < 1:
            raise MoneyError(f"split needs a whole number of parts, at least one; got {parts!r}")
        return self.allocate([1] * parts)


def _exact_result(
    value: Decimal, a: Money, b: Money, exact: Callable[[Decimal, Decimal], Decimal]
) -> Money:
    """The sum or difference of `a` and `b` (one currency), computed as `value`.

    `value` comes from the caller's decimal context; it is exact exactly when it kept the
    operands' exponent (rounding only ever raises it), so then it needs no further check
    than the digit limit. Otherwise it is recomputed in `_CONTEXT` and fully checked.
    """
    currency = a.currency
    if value.same_quantum(a.amount) and value.adjusted() <= _MAX_ADJUSTED[currency]:
        return _trusted(value, currency)
    return Money(amount=exact(a.amount, b.amount), currency=currency)


def _trusted(amount: Decimal, currency: str) -> Money:
    """A Money from an amount known to be exact at `currency`'s minor unit, unchecked."""
    result = _NEW(Money)
    _SET_AMOUNT(result, amount)
    _SET_CURRENCY(result, currency)
    return result


_NEW: Final = object.__new__
# The slots' own setters: what the frozen dataclass __init__ does, minus its overhead.
_SET_AMOUNT: Final[Callable[[Money, Decimal], None]] = vars(Money)["amount"].__set__
_SET_CURRENCY: Final[Callable[[Money, str], None]] = vars(Money)["currency"].__set__


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum amounts of one currency (an empty sum is zero in `currency`)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
