"""Small, fast readers of Stripe JSON fields that refuse to guess.

Why: after an API upgrade a field a posting needs can vanish or change type, and an
ELT tool that reads it as null or zero books wrong numbers without a word. Each reader
here either returns the value or raises `Bad` naming the field, which `normalize`
turns into a permanent `Problem`. Plain dict access only: `normalize` runs tens of
thousands of times a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final

from billbridge.domain import Money, TaxAmount, is_currency

__all__ = [
    "Bad",
    "Wait",
    "amount",
    "currency",
    "day",
    "decimal_or_none",
    "line_list",
    "mapping",
    "money",
    "optional_day",
    "optional_ts",
    "ref_id",
    "required_int",
    "tax_total",
    "taxes",
    "text",
    "timestamp",
]

_HINT_UPGRADE: Final = (
    "the field is missing or has another type: check the Stripe API version the export was "
    "made with (billbridge reads 2017-08-15 and the current version)"
)


class Bad(Exception):  # noqa: N818 - a signal inside this package, never seen outside
    """A field cannot be read; carries the field, a message and a fix hint."""

    def __init__(self, field: str, message: str, hint: str = _HINT_UPGRADE) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.hint = hint


class Wait(Exception):  # noqa: N818 - a signal inside this package, never seen outside
    """The record needs another record we do not hold yet."""

    def __init__(self, obj: str, ident: str, reason: str) -> None:
        super().__init__(reason)
        self.obj = obj
        self.ident = ident
        self.reason = reason


_CURRENCIES: dict[str, str] = {}


def currency(data: Mapping[str, Any], field: str = "currency") -> str:
    """Stripe's lower-case code as ISO 4217 upper case; unknown codes are a Problem."""
    value = data.get(field)
    code = _CURRENCIES.get(value) if type(value) is str else None
    if code is not None:
        return code
    if value is None:
        raise Bad(field, f"{field} is missing")
    if type(value) is str and len(value) == 3 and is_currency(value.upper()):
        code = value.upper()
        _CURRENCIES[value] = code
        return code
    raise Bad(
        field,
        f"{field} {value!r} is not an ISO 4217 currency",
        "correct the currency in Stripe (or in the export) and replay",
    )


def required_int(data: Mapping[str, Any], key: str, field: str) -> int:
    """An integer field a posting needs: missing, null, float or string is a Problem."""
    value = data.get(key)
    if type(value) is int:
        return value
    if value is None:
        raise Bad(field, f"{field} is missing")
    raise Bad(field, f"{field} must be an integer count of minor units, got {value!r}")


money = lru_cache(maxsize=1 << 16)(Money.from_minor)
"""`Money.from_minor`, cached: Money is immutable and prices repeat, so most calls hit."""


def amount(data: Mapping[str, Any], key: str, field: str, cur: str) -> Money:
    """Minor units → Money (1999 EUR → 19.99 EUR)."""
    return money(required_int(data, key, field), cur)


@lru_cache(maxsize=1 << 12)
def _utc(seconds: int) -> datetime:
    """Unix seconds as an aware UTC datetime, cached: a record's timestamps repeat (created,
    finalized, period start), and the conversion costs ten dictionary look-ups."""
    return datetime.fromtimestamp(seconds, UTC)  # tz positional: keywords cost a third more


def _from_ts(value: object, field: str) -> datetime:
    if type(value) is not int:
        raise Bad(field, f"{field} must be a Unix timestamp in seconds, got {value!r}")
    try:
        return _utc(value)
    except (OverflowError, OSError, ValueError):
        raise Bad(field, f"{field} {value!r} is not a usable Unix timestamp") from None


def timestamp(data: Mapping[str, Any], key: str, field: str) -> datetime:
    """A required Unix-seconds field as an aware UTC datetime."""
    value = data.get(key)
    if value is None:
        raise Bad(field, f"{field} is missing")
    return _from_ts(value, field)


def optional_ts(data: Mapping[str, Any] | None, key: str, field: str) -> datetime | None:
    """An optional Unix-seconds field: absent or null is None, anything else must parse."""
    if data is None:
        return None
    value = data.get(key)
    return None if value is None else _from_ts(value, field)


def day(data: Mapping[str, Any], key: str, field: str) -> date:
    return timestamp(data, key, field).date()


def optional_day(data: Mapping[str, Any] | None, key: str, field: str) -> date | None:
    moment = optional_ts(data, key, field)
    return None if moment is None else moment.date()


def text(data: Mapping[str, Any] | None, key: str) -> str:
    """An optional descriptive string: null or absent is "" (numbers are printed)."""
    if data is None:
        return ""
    value = data.get(key)
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    return ""


def ref_id(value: object) -> str:
    """A reference that is either an id or an expanded object: its id, or ""."""
    if type(value) is str:
        return value
    if type(value) is dict or isinstance(value, Mapping):
        ident = value.get("id")
        return ident if type(ident) is str else ""
    return ""


def mapping(value: object) -> Mapping[str, Any] | None:
    if type(value) is dict:  # the common cases, without the slow ABC check
        return value
    if value is None:
        return None
    return value if isinstance(value, Mapping) else None


def line_list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The items of a Stripe `list` object (or a plain list); a partial list is a Problem."""
    value = data.get(key)
    if type(value) is dict or isinstance(value, Mapping):
        if value.get("has_more") is True:
            raise Bad(
                f"{key}.has_more",
                f"only part of the {key} is in the record (has_more is true)",
                f"export the record with all its {key} (fetch /{key} with pagination) and "
                "replay; a document cannot be posted from a partial list",
            )
        items = value.get("data")
    else:
        items = value
    if items is None:
        raise Bad(key, f"{key} is missing")
    if type(items) is not list:
        raise Bad(key, f"{key} must be a list, got {type(items).__name__}")
    for i, item in enumerate(items):
        if type(item) is not dict and not isinstance(item, Mapping):
            raise Bad(f"{key}[{i}]", f"{key}[{i}] must be an object, got {item!r}")
    return items


def decimal_or_none(value: object) -> Decimal | None:
    """A percentage or quantity given as int, float (localstripe) or decimal string."""
    if value is None or type(value) is bool:
        return None
    if type(value) is int:
        return Decimal(value)
    if type(value) is float or type(value) is str:
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None


def _listed_taxes(
    item: Mapping[str, Any], field: str, cur: str, key: str
) -> list[tuple[str, Money, int, bool]] | None:
    """The current API's tax list `item[key]` read and checked item by item, in order:
    (rate id, amount, minor units, inclusive) each; None when the list is absent."""
    current = item.get(key)
    if current is None:
        return None
    base = f"{field}.{key}" if field else key
    if type(current) is not list:
        raise Bad(base, f"{base} must be a list, got {current!r}")
    out = []
    for i, tax in enumerate(current):
        if type(tax) is not dict and not isinstance(tax, Mapping):
            raise Bad(f"{base}[{i}]", f"{base}[{i}] must be an object")
        details = mapping(tax.get("tax_rate_details"))
        rate = ref_id(details.get("tax_rate")) if details is not None else ""
        if not rate:
            raise Bad(
                f"{base}[{i}].tax_rate_details.tax_rate",
                f"{base}[{i}] has no tax rate id",
                "only taxes computed from Stripe tax rates can be mapped to accounts",
            )
        minor = tax.get("amount")
        if type(minor) is not int:
            minor = required_int(tax, "amount", f"{base}[{i}].amount")  # raises, naming it
        out.append((rate, money(minor, cur), minor, tax.get("tax_behavior") == "inclusive"))
    return out


def tax_total(item: Mapping[str, Any], cur: str, key: str) -> Money:
    """The sum of the current API's tax list `item[key]`, each entry checked as `taxes`
    checks it (a total needs no `TaxAmount` per entry); zero when the list is absent."""
    listed = _listed_taxes(item, "", cur, key)
    if listed is None:
        return Money.zero(cur)
    return money(sum(minor for _, _, minor, _ in listed), cur)


def taxes(
    item: Mapping[str, Any],
    field: str,
    cur: str,
    current_key: str = "taxes",
    older_key: str = "tax_amounts",
) -> tuple[TaxAmount, ...]:
    """Per-line taxes in either shape: current `taxes` or older `tax_amounts`.

    Current: `[{amount, tax_behavior, tax_rate_details: {tax_rate}, taxable_amount}]`.
    Older (and localstripe): `[{amount, inclusive, tax_rate: "txr_…" | {tax_rate}}]`.
    """
    listed = _listed_taxes(item, field, cur, current_key)
    if listed is not None:
        return tuple(
            [
                TaxAmount(rate=rate, amount=value, inclusive=inclusive)
                for rate, value, _, inclusive in listed
            ]
        )
    older = item.get(older_key)
    if older is None:
        return ()
    base = f"{field}.{older_key}" if field else older_key
    if type(older) is not list:
        raise Bad(base, f"{base} must be a list, got {older!r}")
    out = []
    for i, tax in enumerate(older):
        where = f"{base}[{i}]"
        if not isinstance(tax, Mapping):
            raise Bad(where, f"{where} must be an object")
        raw_rate = tax.get("tax_rate")
        rate = ref_id(raw_rate)
        if not rate:
            raise Bad(f"{where}.tax_rate", f"{where} has no tax rate id")
        expanded = mapping(raw_rate)
        inclusive = tax.get("inclusive")
        if inclusive is None and expanded is not None:
            inclusive = expanded.get("inclusive")
        out.append(
            TaxAmount(
                rate=rate,
                amount=amount(tax, "amount", f"{where}.amount", cur),
                percentage=(
                    None if expanded is None else decimal_or_none(expanded.get("percentage"))
                ),
                inclusive=inclusive is True,
                jurisdiction="" if expanded is None else text(expanded, "jurisdiction"),
            )
        )
    return tuple(out)
