"""Mapping keys for the accounting rules: entities, exchange rates, tax by jurisdiction.

Why all optional: a mapping written before these rules existed (one entity, one
currency, `tax_rates:` by rate id) keeps its meaning and its version. Each key, once
written, is explicit: an entity rule lists what it matches, a tax rule names the
account and report code, a rate names its date and pair.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billbridge.domain import is_country, is_currency
from billbridge.yamlsource import ConfigError

__all__ = [
    "EntityMatch",
    "EntityRule",
    "FxSettings",
    "RateRow",
    "TaxRule",
    "read_rates_file",
]

_PAIR = re.compile(r"^([A-Z]{3})/([A-Z]{3})$")
_PREFIX = re.compile(r"^[A-Z0-9][A-Za-z0-9\-]*(:[A-Z0-9][A-Za-z0-9\-]*)*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR)")
    return value


def _countries(values: list[str]) -> list[str]:
    for value in values:
        if not is_country(value):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. DE)")
    return values


class RateRow(_Strict):
    """One rate: 1 unit of the pair's first currency is `rate` of the second on `date`."""

    date: date
    pair: str
    rate: Decimal

    @field_validator("pair")
    @classmethod
    def _pair(cls, value: str) -> str:
        match = _PAIR.match(value)
        if match is None or not all(is_currency(c) for c in match.groups()):
            raise ValueError(f"{value!r} is not a currency pair like USD/EUR")
        return value

    @field_validator("rate", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        if isinstance(value, float):
            msg = 'write the rate as a quoted string ("0.9123"): a float is inexact'
            raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError, not TypeError
        return value

    @field_validator("rate")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value <= 0:
            raise ValueError("a rate must be a positive number")
        return value


class FxSettings(_Strict):
    """Where rates come from and where realized exchange differences post."""

    rates: list[RateRow] = Field(default_factory=list)
    file: str = ""  # a CSV beside the mapping: date,pair,rate (read into `rates` on load)
    max_age_days: int = Field(default=0, ge=0, le=31)
    gain: str
    loss: str


class EntityMatch(_Strict):
    """Every key given must match (AND); each lists the values it accepts (OR)."""

    connection: list[str] = Field(default_factory=list)  # the source connection (Stripe account)
    currency: list[str] = Field(default_factory=list)  # the record's transaction currency
    country: list[str] = Field(default_factory=list)  # the customer's country

    @field_validator("currency")
    @classmethod
    def _currencies(cls, values: list[str]) -> list[str]:
        for value in values:
            _currency(value)
        return values

    @field_validator("country")
    @classmethod
    def _country(cls, values: list[str]) -> list[str]:
        return _countries(values)

    def describe(self) -> str:
        parts = [
            f"{name} in {values}"
            for name, values in (
                ("connection", self.connection),
                ("currency", self.currency),
                ("country", self.country),
            )
            if values
        ]
        return " and ".join(parts) or "anything"


class EntityRule(_Strict):
    """A legal entity: its own account prefix, functional currency and VAT country."""

    name: str = Field(min_length=1)
    match: EntityMatch = EntityMatch()
    prefix: str = ""  # inserted after the account root: Income:Sales -> Income:DE:Sales
    currency: str | None = None  # functional currency; None = post in transaction currency
    country: str = ""  # where the entity is VAT-registered (for reverse charge)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not _PREFIX.match(value):
            raise ValueError(
                f"{value!r} is not an account prefix: ':'-separated parts that each start "
                "with a capital letter or digit (e.g. DE or Sub:DE)"
            )
        return value

    @field_validator("currency")
    @classmethod
    def _functional(cls, value: str | None) -> str | None:
        return None if value is None else _currency(value)

    @field_validator("country")
    @classmethod
    def _home(cls, value: str) -> str:
        return _countries([value])[0] if value else value


class TaxRule(_Strict):
    """Tax account and report code for a tax rate or tax code in a jurisdiction.

    Empty keys match anything; among the rules that match, the most specific wins
    (see `mapping/tax.py` for the order).
    """

    rate: str = ""  # the source's tax rate id (Stripe `txr_…`)
    tax_code: str = ""  # the source's product tax code (Stripe `txcd_…`)
    country: str = ""
    region: str = ""
    account: str
    report_code: str = ""
    reverse_charge_code: str = ""  # report code for the net amount of a reverse-charge sale

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return _countries([value])[0] if value else value


def read_rates_file(path: Path) -> list[dict[str, str]]:
    """Rows of a rates CSV (`date,pair,rate`); a bad row is a ConfigError naming its line."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(path, None, "fx.file", f"cannot read the rates file: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or set(reader.fieldnames) != {"date", "pair", "rate"}:
        raise ConfigError(path, 1, "header", "the header must be exactly: date,pair,rate")
    rows: list[dict[str, str]] = []
    for row in reader:
        line = reader.line_num
        try:
            date.fromisoformat(row["date"])
        except (TypeError, ValueError):
            raise ConfigError(path, line, "date", f"{row['date']!r} is not YYYY-MM-DD") from None
        if _PAIR.match(row["pair"] or "") is None:
            raise ConfigError(path, line, "pair", f"{row['pair']!r} is not a pair like USD/EUR")
        try:
            Decimal(row["rate"] or "")
        except InvalidOperation:
            raise ConfigError(path, line, "rate", f"{row['rate']!r} is not a number") from None
        rows.append({"date": row["date"], "pair": row["pair"], "rate": row["rate"]})
    return rows
