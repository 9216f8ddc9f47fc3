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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from typing import Final

from babel.core import get_global

__all__ = [
    "DEFAULT_ROUNDING",
    "CurrencyError",
    "CurrencyMismatchError",
    "Money",
    "MoneyError",
    "is_currency",
    "minor_units",
    "total",
]

DEFAULT_ROUNDING: Final = ROUND_HALF_EVEN

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
    fractions: dict[str, tuple[int, int, int, int]] = get_global("currency_fractions")
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


def is_currency(code: str) -> bool:
    """True when `code` is an ISO 4217 code (upper case, as printed in a ledger)."""
    return code in _currency_table()


def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (EUR 2, JPY 0, KWD 3)."""
    try:
        return _currency_table()[currency]
    except KeyError:
        raise CurrencyError(_currency_message(currency)) from None


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def _currency_message(currency: object) -> str:
    return f"{currency!r} is not an ISO 4217 currency code (expected three letters such as EUR)"


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency; `Money(amount=Decimal("19.99"), currency="EUR")`.

    The amount must already be exact at the currency's minor unit: use `Money.rounded`
    for amounts that need rounding, `Money.from_minor` for Stripe-style integers.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not Decimal:
            raise MoneyError(
                f"amount must be a Decimal, got {type(self.amount).__name__} "
                f"{self.amount!r} (money is never a float)"
            )
        if not self.amount.is_finite():
            raise MoneyError(f"amount {self.amount} is not a finite number")
        quantum = _quantum(self.currency) if is_currency(self.currency) else None
        if quantum is None:
            raise CurrencyError(_currency_message(self.currency))
        exact = self.amount.quantize(quantum)
        if exact != self.amount:
            raise MoneyError(
                f"{self.amount} {self.currency} has more digits than the currency's "
                f"{minor_units(self.currency)} minor units; round it with Money.rounded()"
            )
        object.__setattr__(self, "amount", exact)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=_ZERO, currency=currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """Build from an integer count of minor units: 1999 EUR → 19.99, 500 JPY → 500."""
        if type(minor) is not int:
            raise MoneyError(f"minor units must be an integer, got {minor!r}")
        return cls(amount=Decimal(minor).scaleb(-minor_units(currency)), currency=currency)

    @classmethod
    def rounded(
        cls, amount: Decimal | int | str, currency: str, *, rounding: str = DEFAULT_ROUNDING
    ) -> Money:
        """Round `amount` to the currency's minor unit (half-even unless told otherwise)."""
        if isinstance(amount, float):
            raise MoneyError(f"amount must not be a float ({amount!r}); pass a Decimal or str")
        try:
            value = Decimal(amount)
        except decimal.InvalidOperation:
            raise MoneyError(f"{amount!r} is not a number") from None
        if not is_currency(currency):
            raise CurrencyError(_currency_message(currency))
        return cls(amount=value.quantize(_quantum(currency), rounding=rounding), currency=currency)

    @property
    def minor(self) -> int:
        """The amount as an integer count of minor units (the inverse of `from_minor`)."""
        return int(self.amount.scaleb(minor_units(self.currency)))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise MoneyError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self} with {other}: different currencies "
                f"({self.currency} and {other.currency}); convert one first"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __abs__(self) -> Money:
        return Money(amount=abs(self.amount), currency=self.currency)

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
        if isinstance(factor, float):
            raise MoneyError("factor must not be a float; pass a Decimal")
        return Money.rounded(self.amount * factor, self.currency, rounding=rounding)

    def allocate(self, ratios: Sequence[Decimal | int]) -> tuple[Money, ...]:
        """Split into parts proportional to `ratios`; the parts always add up to `self`.

        Uses the largest-remainder method on minor units: each part gets the floor of its
        exact share, and the leftover units go one each to the parts with the largest
        remainders (earliest first on ties), so no unit is lost or created.
        """
        if not ratios:
            raise MoneyError("allocate needs at least one ratio")
        weights = [Decimal(r) for r in ratios]
        if any(w < 0 for w in weights):
            raise MoneyError("allocation ratios must not be negative")
        total_weight = sum(weights, _ZERO)
        if not total_weight:
            raise MoneyError("allocation ratios must not all be zero")
        sign = -1 if self.amount < 0 else 1
        units = abs(self.minor)
        with decimal.localcontext() as ctx:
            ctx.prec = 60
            exact = [Decimal(units) * w / total_weight for w in weights]
        floors = [int(e) for e in exact]
        leftover = units - sum(floors)
        order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
        for i in order[:leftover]:
            floors[i] += 1
        return tuple(Money.from_minor(sign * f, self.currency) for f in floors)

    def split(self, parts: int) -> tuple[Money, ...]:
        """Split into `parts` near-equal amounts that add up to `self`."""
        if parts < 1:
            raise MoneyError("split needs at least one part")
        return self.allocate([1] * parts)


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum amounts of one currency (an empty sum is zero in `currency`)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
