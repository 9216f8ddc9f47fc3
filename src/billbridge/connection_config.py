"""The connections billbridge ships: Stripe and its ledger targets, as billbridge.yaml states them.

Why models of their own: each `connector:` validates its own keys (a plugin's connector
brings its model the same way, through its spec), so a Stripe key on the wrong mode or a
ledger URL of an unknown kind is refused with the field that is wrong. Secrets are
`SecretStr`, filled from environment variables, never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from .config_errors import FieldValueError
from .connectors.spec import ConnectionConfig

__all__ = [
    "BeancountConnection",
    "CsvExportConnection",
    "GnuCashConnection",
    "LedgerConnection",
    "SqlLedgerConnection",
    "StripeConnection",
    "StripeObjectName",
]


StripeObjectName = Literal[
    "customers",
    "balance_transactions",
    "invoices",
    "invoice_payments",
    "payment_intents",
    "charges",
    "refunds",
    "credit_notes",
    "payouts",
]


class StripeConnection(ConnectionConfig):
    """Stripe, read from an export file (JSONL of API objects) or the live API (`api_key`)."""

    connector: Literal["stripe"]
    mode: Literal["sandbox", "production"] = "sandbox"
    export: Path | None = None
    api_key: SecretStr | None = None
    api_version: str | None = None
    rate_limit: float | None = Field(default=None, gt=0)
    api_base: str | None = Field(default=None, pattern=r"^https?://")
    webhook_secret: SecretStr | None = None
    objects: tuple[StripeObjectName, ...] | None = None

    @model_validator(mode="after")
    def _needs_a_source(self) -> StripeConnection:
        if self.export is None and self.api_key is None:
            raise ValueError("set `export: <file.jsonl>` or `api_key: ${STRIPE_API_KEY}`")
        if self.api_key is not None:
            _check_key_mode(self.api_key.get_secret_value(), self.mode)
        return self


def _check_key_mode(key: str, mode: str) -> None:
    """A test key on a production connection (or the reverse) posts to the wrong books."""
    live = key.startswith(("sk_live_", "rk_live_"))
    test = key.startswith(("sk_test_", "rk_test_"))
    if not (live or test):
        raise FieldValueError(
            ("api_key",),
            "is not a Stripe secret key (expected sk_test_…/rk_test_… or sk_live_…/rk_live_…)",
        )
    if mode == "production" and test:
        raise FieldValueError(
            ("api_key",),
            "is a test-mode key (sk_test_…) on a `mode: production` connection; use the live "
            "key or set `mode: sandbox`",
        )
    if mode == "sandbox" and live:
        raise FieldValueError(
            ("api_key",),
            "is a live key (sk_live_…) on a `mode: sandbox` connection; use a test key or set "
            "`mode: production`",
        )


class BeancountConnection(ConnectionConfig):
    """A Beancount ledger: `path` is the user's main file; billbridge appends beside it."""

    connector: Literal["beancount"]
    path: Path
    mode: Literal["sandbox", "production"] = "production"


class GnuCashConnection(ConnectionConfig):
    """A GnuCash book (SQLite file); `currency`: base currency of a book billbridge creates."""

    connector: Literal["gnucash"]
    path: Path
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    mode: Literal["sandbox", "production"] = "production"


class SqlLedgerConnection(ConnectionConfig):
    """`journal` + `journal_line` tables in the database at `url` (sqlite:/// or postgresql://)."""

    connector: Literal["sqlgl"]
    url: str = Field(pattern=r"^(sqlite:///|postgresql://|postgres://)")
    mode: Literal["sandbox", "production"] = "production"


class CsvExportConnection(ConnectionConfig):
    """Files for manual import: one CSV per run in the folder `path`, in an import `format`."""

    connector: Literal["csv-export"]
    path: Path
    format: Literal["quickbooks-journal", "xero-sales-invoices"]
    tax_type: str | None = None  # Xero's *TaxType for every line, e.g. "Tax Exempt"
    mode: Literal["sandbox", "production"] = "production"

    @model_validator(mode="after")
    def _xero_needs_a_tax_type(self) -> CsvExportConnection:
        if self.format == "xero-sales-invoices" and not self.tax_type:
            raise ValueError(
                "set `tax_type:` to the Xero tax rate name for the lines, e.g. `Tax Exempt`"
            )
        return self


# billbridge's own ledger targets; a workspace may name any installed connector (plugins).
LedgerConnection = (
    BeancountConnection | GnuCashConnection | SqlLedgerConnection | CsvExportConnection
)
