"""Money and dates as people write them in spreadsheets and exports, read without guessing.

Why a parser of our own around babel: "$1,234.56", "1.234,56 €", "1 234,56 EUR" and
"(12.50)" all occur in the invoice registers finance teams export, and the classic ways
to get them wrong are silent: "100,00" read as ten thousand in en_US, a French
thousands space read as two numbers, a dollar sign taken for US dollars in a Canadian
file. `babel.numbers.parse_decimal(..., strict=True)` reads the digits for a declared
locale and refuses a misplaced separator; around it we handle what babel does not:
currency symbols and ISO codes, accounting parentheses and trailing minus signs, the
three kinds of space used as a thousands separator, and the currency's minor units.

Every refusal is a `CellError` whose message quotes the raw text and says which format
was expected, so a person can fix the cell. Nothing here guesses: a symbol that names
several currencies, a date that does not match the declared format, or an amount with
more decimals than its currency has are errors, never readings.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberFormatError, format_decimal, get_currency_symbol, parse_decimal

from billbridge.domain import Money, is_currency, minor_units

__all__ = ["CellError", "date_pattern", "parse_amount", "parse_date", "parse_decimal_cell"]

_SPACES: Final = ("\u00a0", "\u202f", "\u2009", " ")
_MINUS: Final = ("-", "\u2212", "\u2013")
_CODE: Final = re.compile(r"^([A-Z]{3})\s*(.*)$|^(.*?)\s*([A-Z]{3})$", re.DOTALL)
# Symbols that name one currency wherever they appear. "$", "¥", "kr" and the like name
# several, and are accepted only when the column's currency is declared.
_UNAMBIGUOUS: Final = {"€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₺": "TRY", "₪": "ILS"}
_DATE_WORDS: Final = {"%d": "DD", "%m": "MM", "%Y": "YYYY", "%y": "YY", "%b": "Mon", "%B": "Month"}


class CellError(ValueError):
    """A cell that cannot be read as declared; the message quotes it and says what was expected."""


@cache
def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        raise CellError(
            f"unknown locale {name!r} (expected a name such as en_US or de_DE)"
        ) from None


def _example(locale: str) -> str:
    """How this locale writes 1234.56, for messages."""
    return format_decimal(Decimal("-1234.56"), format="#,##0.00", locale=_locale(locale))


def parse_decimal_cell(text: str, *, locale: str) -> Decimal:
    """A plain number as the locale writes it ("1.234,56" in de_DE), with no currency."""
    if not text.strip():
        raise CellError("the cell is empty; a number is required")
    negative, digits = _sign(text.strip())
    value = _digits(digits, text, locale)
    return -value if negative else value


def _digits(text: str, raw: str, locale: str) -> Decimal:
    """The unsigned number in `text`; a second sign in it is refused."""
    if _sign(text)[0]:
        raise CellError(f"{raw!r} has two signs; write one (e.g. '-12.50' or '(12.50)')")
    group = _locale(locale).number_symbols["latn"]["group"]
    if group in _SPACES:  # a French "1 234,56" is written with any of three spaces
        for space in _SPACES:
            text = text.replace(space, group)
    try:
        value = parse_decimal(text, locale=_locale(locale), strict=True)
    except NumberFormatError:
        raise CellError(
            f"{raw!r} is not a number as {locale} writes them (expected e.g. {_example(locale)!r})"
        ) from None
    if not value.is_finite():
        raise CellError(f"{raw!r} is not a finite number")
    return value


def _sign(text: str) -> tuple[bool, str]:
    """Strip an accounting parenthesis or a leading/trailing minus; True when negative."""
    if text.startswith("(") and text.endswith(")"):
        return True, text[1:-1].strip()
    for minus in _MINUS:
        if text.startswith(minus):
            return True, text[len(minus) :].strip()
        if text.endswith(minus):
            return True, text[: -len(minus)].strip()
    return False, text


def _symbols(locale: str, currency: str) -> set[str]:
    """What may stand for `currency` in this locale: its code and its symbols."""
    found = {currency, get_currency_symbol(currency, locale=_locale(locale))}
    found.add(get_currency_symbol(currency, locale=_locale("en")))
    for symbol, code in _UNAMBIGUOUS.items():
        if code == currency:
            found.add(symbol)
    if currency in {"USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD"}:
        found.add("$")
    if currency in {"JPY", "CNY"}:
        found.add("¥")
    return found


def _split_currency(text: str) -> tuple[str | None, str]:
    """(the currency mark written in the cell, or None; the rest)."""
    match = _CODE.match(text)
    if match:
        code, rest = (match.group(1), match.group(2)) if match.group(1) else (
            match.group(4), match.group(3)
        )  # fmt: skip
        if is_currency(code):
            return code, rest.strip()
    head = re.match(r"^([^\d\s.,()\-\u2212]+)\s*(.*)$", text, re.DOTALL)
    if head:
        return head.group(1), head.group(2).strip()
    tail = re.match(r"^(.*?)\s*([^\d\s.,()\-\u2212]+)$", text, re.DOTALL)
    if tail:
        return tail.group(2), tail.group(1).strip()
    return None, text


def parse_amount(text: str, *, locale: str, currency: str | None = None) -> Money:
    """An amount cell ("1.234,56 €", "(12.50)", "USD 1,234.56") as exact Money.

    `currency` is the column's declared currency (or the row's), used when the cell has
    no mark of its own; a mark that disagrees with it is an error, as is a symbol such
    as "$" that names several currencies when none is declared.
    """
    raw = text
    text = text.strip()
    if not text:
        raise CellError("the cell is empty; an amount is required")
    negative, text = _sign(text)
    mark, number = _split_currency(text)
    if mark is not None and not negative:  # "-€12.50" and "€-12.50" are both written
        negative, number = _sign(number)
    code = _currency_of(raw, mark, currency, locale)
    value = _digits(number, raw, locale)
    if negative:
        value = -value
    units = minor_units(code)
    if value != value.quantize(Decimal(1).scaleb(-units)):
        raise CellError(
            f"{raw!r} has more decimals than {code}'s {units} minor units "
            f"(expected e.g. {_example(locale)!r} for {locale})"
        )
    return Money(value.quantize(Decimal(1).scaleb(-units)), code)


def _currency_of(raw: str, mark: str | None, declared: str | None, locale: str) -> str:
    if declared is not None and not is_currency(declared):
        raise CellError(f"{declared!r} is not an ISO 4217 currency code (such as EUR)")
    if mark is None:
        if declared is None:
            raise CellError(
                f"{raw!r} names no currency and the column declares none "
                "(write e.g. 'EUR 12.50', or declare the currency column)"
            )
        return declared
    if is_currency(mark):
        code = mark
    elif declared is not None and mark in _symbols(locale, declared):
        code = declared
    elif mark in _UNAMBIGUOUS:
        code = _UNAMBIGUOUS[mark]
    else:
        raise CellError(
            f"{raw!r}: the mark {mark!r} is not an ISO 4217 code, or names several "
            "currencies; write the code (e.g. USD) or declare the currency column"
        )
    if declared is not None and code != declared:
        raise CellError(f"{raw!r} is in {code}, but the row's currency is {declared}")
    return code


def date_pattern(fmt: str) -> str:
    """A strptime format in words a person reads ("%d.%m.%Y" → "DD.MM.YYYY")."""
    for code, word in _DATE_WORDS.items():
        fmt = fmt.replace(code, word)
    return fmt


def parse_date(text: str, fmt: str) -> date:
    """A date written exactly in the declared `fmt` (strptime codes); never a guess."""
    raw = text
    text = text.strip()
    if not text:
        raise CellError(f"the cell is empty; a date in the format {date_pattern(fmt)} is required")
    try:
        parsed = datetime.strptime(text, fmt)  # noqa: DTZ007 - a calendar date, no time of day
    except ValueError:
        raise CellError(
            f"{raw!r} is not a date in the format {date_pattern(fmt)} ({fmt})"
        ) from None
    return parsed.date()
