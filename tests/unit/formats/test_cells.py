"""Amount and date cells as exports write them: read exactly, or refused with the reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from billbridge.domain import Money
from billbridge.formats.cells import CellError, parse_amount, parse_date, parse_decimal_cell


@pytest.mark.parametrize(
    ("text", "locale", "currency", "expected"),
    [
        ("$1,234.56", "en_US", "USD", Money(Decimal("1234.56"), "USD")),
        ("1.234,56 €", "de_DE", None, Money(Decimal("1234.56"), "EUR")),
        ("1 234,56 EUR", "fr_FR", None, Money(Decimal("1234.56"), "EUR")),
        ("1\u00a0234,56\u00a0€", "fr_FR", None, Money(Decimal("1234.56"), "EUR")),
        ("1\u202f234,56 €", "fr_FR", "EUR", Money(Decimal("1234.56"), "EUR")),
        ("(12.50)", "en_US", "USD", Money(Decimal("-12.50"), "USD")),
        ("(€12.50)", "en_US", None, Money(Decimal("-12.50"), "EUR")),
        ("-€12.50", "en_US", None, Money(Decimal("-12.50"), "EUR")),
        ("€-12.50", "en_US", None, Money(Decimal("-12.50"), "EUR")),
        ("12,50-", "de_DE", "EUR", Money(Decimal("-12.50"), "EUR")),
        ("USD 1,234.56", "en_US", None, Money(Decimal("1234.56"), "USD")),
        ("1234", "ja_JP", "JPY", Money(Decimal(1234), "JPY")),
        ("¥1,234", "ja_JP", "JPY", Money(Decimal(1234), "JPY")),
        ("1.234,567 KWD", "de_DE", None, Money(Decimal("1234.567"), "KWD")),
        ("1'234.50", "de_CH", "CHF", Money(Decimal("1234.50"), "CHF")),
        ("CA$10.00", "en_US", "CAD", Money(Decimal("10.00"), "CAD")),
        ("  7.5  ", "en_US", "EUR", Money(Decimal("7.50"), "EUR")),
    ],
)
def test_amounts_as_written_are_read_exactly(
    text: str, locale: str, currency: str | None, expected: Money
) -> None:
    assert parse_amount(text, locale=locale, currency=currency) == expected


@pytest.mark.parametrize(
    ("text", "locale", "currency", "says"),
    [
        ("100,00", "en_US", "USD", "not a number as en_US writes them"),  # never 10000
        ("1,234.56", "de_DE", "EUR", "expected e.g. '-1.234,56'"),
        ("$12.00", "en_US", None, "names several currencies"),
        ("12.00", "en_US", None, "names no currency"),
        ("12.345 €", "en_US", None, "more decimals than EUR's 2 minor units"),
        ("12.5", "ja_JP", "JPY", "more decimals than JPY's 0 minor units"),
        ("USD 12.00", "en_US", "EUR", "is in USD, but the row's currency is EUR"),
        ("", "en_US", "EUR", "empty"),
        ("XYZ 12.00", "en_US", None, "not an ISO 4217 code"),
        ("-(12.50)", "en_US", "EUR", "two signs"),
        ("-€-12.50", "en_US", None, "two signs"),
        ("(-12.50)", "en_US", "EUR", "two signs"),
        ("12.00", "xx_NOPE", "EUR", "unknown locale"),
        ("12 €", "en_US", "EURO", "not an ISO 4217 currency code"),
    ],
)
def test_unreadable_amounts_are_refused_naming_text_and_format(
    text: str, locale: str, currency: str | None, says: str
) -> None:
    with pytest.raises(CellError) as caught:
        parse_amount(text, locale=locale, currency=currency)
    assert says in str(caught.value)
    if text.strip() and currency != "EURO" and "xx" not in locale:  # else the setting is wrong
        assert repr(text) in str(caught.value)


def test_a_plain_number_cell() -> None:
    assert parse_decimal_cell("1.234,5", locale="de_DE") == Decimal("1234.5")
    assert parse_decimal_cell("(3)", locale="en_US") == Decimal(-3)
    with pytest.raises(CellError, match="'1,5' is not a number as en_US"):
        parse_decimal_cell("1,5", locale="en_US")


def test_dates_follow_the_declared_format_and_nothing_else() -> None:
    assert parse_date("04.03.2026", "%d.%m.%Y") == date(2026, 3, 4)
    assert parse_date("03/04/2026", "%m/%d/%Y") == date(2026, 3, 4)
    assert parse_date("2026-03-04", "%Y-%m-%d") == date(2026, 3, 4)
    with pytest.raises(CellError, match=r"'03/04/2026' is not a date in the format DD\.MM\.YYYY"):
        parse_date("03/04/2026", "%d.%m.%Y")
    with pytest.raises(CellError, match="MM/DD/YYYY"):
        parse_date("13/04/2026", "%m/%d/%Y")
    with pytest.raises(CellError, match="empty"):
        parse_date(" ", "%Y-%m-%d")


LOCALES = ["en_US", "de_DE", "fr_FR", "de_CH", "en_GB", "nl_NL", "es_ES", "it_IT", "ja_JP"]
CURRENCIES = {"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3, "GBP": 2, "CHF": 2}


@given(
    locale=st.sampled_from(LOCALES),
    currency=st.sampled_from(sorted(CURRENCIES)),
    minor=st.integers(min_value=-(10**12), max_value=10**12),
    accounting=st.booleans(),
)
def test_what_babel_writes_for_a_locale_reads_back_exactly(
    locale: str, currency: str, minor: int, accounting: bool
) -> None:
    amount = Decimal(minor).scaleb(-CURRENCIES[currency])
    text = format_currency(
        amount, currency, locale=locale, format_type="accounting" if accounting else "standard"
    )
    assert parse_amount(text, locale=locale, currency=currency) == Money(amount, currency)
