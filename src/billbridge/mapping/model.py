"""The mapping file: accounts, product and tax-rate tables, field paths; versioned by content.

Why explicit tables and no fallbacks: a tax rate that silently posts to a default
account is the error finance finds at quarter end. Every account a posting uses must be
written in the mapping; a rate or product with no rule fails its record with a message
naming the rate, the record and this file. The mapping's version is the hash of its
validated content, recorded on every posting and audit row, so "why did this invoice
post to 4000?" has an answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping as AbcMapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
import jmespath.exceptions
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from billbridge.domain import Rate, RateTable, is_currency
from billbridge.yamlsource import ConfigError, first_error, load_yaml

from .books import EntityRule, FxSettings, TaxRule, read_rates_file
from .deferral import DeferralSettings

__all__ = ["Accounts", "Mapping", "load_mapping"]

_ACCOUNT = re.compile(r"^(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9\-]*)+$")


_ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
_PART = re.compile(r"^[A-Z0-9][A-Za-z0-9\-]*$")


class AccountError(ValueError):
    """An account name a ledger refuses; `loc` is the entry's key inside its table."""

    def __init__(self, message: str, loc: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


def _account_problem(value: str) -> str:
    """What is wrong with an account name, naming the part and the character."""
    parts = value.split(":")
    if parts[0] not in _ROOTS:
        return f"it must start with {', '.join(_ROOTS[:-1])} or {_ROOTS[-1]}, not {parts[0]!r}"
    if len(parts) < 2:
        return "it needs at least one ':'-separated part after the root (e.g. Income:Sales)"
    for part in parts[1:]:
        if not part:
            return "it has an empty part (two ':' in a row, or one at the end)"
        if not part[0].isupper() and not part[0].isdigit():
            return f"the part {part!r} must start with a capital letter or a digit"
        bad = next((c for c in part if not (c.isascii() and (c.isalnum() or c == "-"))), None)
        if bad is not None:
            what = {"_": "an underscore", " ": "a space", ".": "a dot"}.get(bad, repr(bad))
            fixed = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in part)
            return (
                f"the part {part!r} contains {what} ({bad!r}); parts take only letters, digits "
                f"and '-' (write {fixed!r})"
            )
    return "parts take only letters, digits and '-', each starting with a capital or a digit"


def _check_account(value: str, key: str | None = None) -> str:
    if not _ACCOUNT.match(value):
        raise AccountError(
            f"{value!r} is not a ledger account: {_account_problem(value)} "
            "(e.g. Liabilities:Tax:DE-VAT19)",
            (key,) if key is not None else (),
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accounts(_Strict):
    """The accounts every posting rule needs; the optional ones fail records when missing."""

    receivable: str
    clearing: str
    fees: str
    refunds: str
    bank: str
    revenue: str | None = None  # for lines whose product has no rule; absent = fail them
    unapplied: str | None = None  # payments with no invoice; absent = fail them
    discounts: str | None = None  # needed with `discounts: separate`
    # a payment settled in another currency, in books with no functional currency
    conversion: str | None = None

    @field_validator("*")
    @classmethod
    def _valid(cls, value: str | None) -> str | None:
        return None if value is None else _check_account(value)


class Mapping(_Strict):
    """A validated mapping file. `version` is its content hash (12 hex digits)."""

    path: Path = Path("mapping.yaml")
    entity: str = "default"
    timezone: str
    accounts: Accounts
    discounts: Literal["net", "separate"] = "net"
    zero_invoices: Literal["skip", "memo"] = "skip"  # a zero-total invoice: nothing, or a memo
    products: dict[str, str] = Field(default_factory=dict)
    tax_rates: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)
    # Accounting rules (mapping/books.py); all optional, so older mappings keep their meaning.
    currency: str | None = None  # functional currency of `entity` (None: no conversion)
    fx: FxSettings | None = None
    tax_rules: list[TaxRule] = Field(default_factory=list)
    entities: list[EntityRule] = Field(default_factory=list)
    deferral: DeferralSettings | None = None  # deferred revenue (mapping/deferral.py)

    @field_validator("currency")
    @classmethod
    def _functional(cls, value: str | None) -> str | None:
        if value is not None and not is_currency(value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR)")
        return value

    @field_validator("tax_rules")
    @classmethod
    def _tax_accounts(cls, rules: list[TaxRule]) -> list[TaxRule]:
        for rule in rules:
            _check_account(rule.account)
        return rules

    @field_validator("fx")
    @classmethod
    def _fx_accounts(cls, fx: FxSettings | None) -> FxSettings | None:
        if fx is not None:
            _check_account(fx.gain)
            _check_account(fx.loss)
        return fx

    @field_validator("deferral")
    @classmethod
    def _deferral_account(cls, value: DeferralSettings | None) -> DeferralSettings | None:
        if value is not None:
            _check_account(value.account)
            if not value.account.startswith("Liabilities:"):
                raise ValueError(
                    f"deferral.account {value.account!r} must be a liability (deferred revenue "
                    "is owed to the customer until it is earned), e.g. Liabilities:Deferred-Revenue"
                )
        return value

    @model_validator(mode="after")
    def _fx_needed(self) -> Mapping:
        converts = self.currency is not None or any(e.currency for e in self.entities)
        if converts and self.fx is None:
            raise ValueError(
                "fx: a functional `currency` is set, so `fx:` (rates, gain, loss) is required"
            )
        names = [e.name for e in self.entities]
        if len(names) != len(set(names)):
            raise ValueError("entities: two entities have the same name")
        return self

    @cached_property
    def rate_table(self) -> RateTable:
        if self.fx is None:
            return RateTable()
        rates = tuple(
            Rate(day=r.date, base=r.pair[:3], quote=r.pair[4:], rate=r.rate) for r in self.fx.rates
        )
        return RateTable(rates, self.fx.max_age_days)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value

    @field_validator("products", "tax_rates")
    @classmethod
    def _accounts(cls, table: dict[str, str]) -> dict[str, str]:
        for key, value in table.items():
            _check_account(value, key)
        return table

    @field_validator("fields")
    @classmethod
    def _paths(cls, table: dict[str, str]) -> dict[str, str]:
        for name, expression in table.items():
            try:
                jmespath.compile(expression)
            except jmespath.exceptions.ParseError as exc:
                raise ValueError(f"fields.{name}: {expression!r} is not JMESPath: {exc}") from None
        return table

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def version(self) -> str:
        content = self.model_dump(mode="json", exclude={"path"})
        for key in _OPTIONAL_RULES:  # unset: same version as before these keys existed
            if not content.get(key):
                content.pop(key, None)
        for key, default in _LATER_DEFAULTS.items():
            if content.get(key) == default:
                content.pop(key, None)
        for key in _LATER_ACCOUNTS:
            if content["accounts"].get(key) is None:
                content["accounts"].pop(key, None)
        return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]

    @cached_property
    def _compiled(self) -> dict[str, Any]:
        return {name: jmespath.compile(expr) for name, expr in self.fields.items()}

    def field(self, name: str, source: AbcMapping[str, Any]) -> str:
        """The `fields.<name>` JMESPath applied to a source object ("" when unset or null)."""
        compiled = self._compiled.get(name)
        if compiled is None:
            return ""
        value = compiled.search(source)
        return "" if value is None else str(value)


_OPTIONAL_RULES = ("currency", "fx", "tax_rules", "entities", "deferral")
# Keys added later, left out of the version at their default (the meaning before them).
_LATER_DEFAULTS: dict[str, object] = {"zero_invoices": "skip"}
_LATER_ACCOUNTS = ("conversion",)


def _with_rates_file(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Read `fx.file` (relative to the mapping) into `fx.rates`, so the version covers it."""
    fx = data.get("fx")
    if not isinstance(fx, dict) or not fx.get("file"):
        return data
    rows = read_rates_file(path.parent / str(fx["file"]))
    inline = fx.get("rates") or []
    if not isinstance(inline, list):
        return data  # the model names the field
    return {**data, "fx": {**fx, "rates": [*inline, *rows]}}


def load_mapping(path: Path) -> Mapping:
    """Load and validate a mapping file; a ConfigError names the file, line and field."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError(path, 1, "", "expected a mapping with `accounts:` and `tax_rates:`")
    try:
        return Mapping.model_validate({**_with_rates_file(path, doc.data), "path": path})
    except ValidationError as exc:
        top = [name for name in Mapping.model_fields if name != "path"]
        error, misspelled = first_error(exc.errors(), top)
        loc = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        located = (error.get("ctx") or {}).get("error")
        if isinstance(located, AccountError):  # the entry's own line, not its table's
            loc, message = (*loc, *located.loc), str(located)
        if error["type"] == "extra_forbidden":
            message = misspelled
        elif error["type"] == "missing":
            message = "required, but missing"
        field = ".".join(str(p) for p in loc)
        raise ConfigError(path, doc.line_of(loc), field, message) from None
