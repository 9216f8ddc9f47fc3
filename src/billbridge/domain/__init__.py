"""The pure billing model: money, parties, documents, payments and journal entries.

Imports nothing of billbridge and does no I/O, so every rule here can be tested with
plain values and reused by every connector.
"""

from __future__ import annotations

from .billing import (
    Address,
    CreditNote,
    CreditNoteLine,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    Payout,
    Refund,
    TaxAmount,
    validate_invoice,
)
from .frozen import fast_init
from .fx import Rate, RateTable, convert_postings
from .journal import JournalEntry, Posting
from .money import (
    DEFAULT_ROUNDING,
    MAX_DIGITS,
    ROUNDING_MODES,
    CurrencyError,
    CurrencyMismatchError,
    Money,
    MoneyError,
    is_currency,
    minor_units,
    total,
)
from .problems import DomainError, Problem, Severity
from .validation import (
    is_country,
    validate_credit_note,
    validate_customer,
    validate_payment,
    validate_tax_id,
)
from .words import RecordWords, format_amount, plural

__all__ = [
    "DEFAULT_ROUNDING",
    "MAX_DIGITS",
    "ROUNDING_MODES",
    "Address",
    "CreditNote",
    "CreditNoteLine",
    "CurrencyError",
    "CurrencyMismatchError",
    "Customer",
    "DomainError",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "JournalEntry",
    "Money",
    "MoneyError",
    "Payment",
    "Payout",
    "Posting",
    "Problem",
    "Rate",
    "RateTable",
    "RecordWords",
    "Refund",
    "Severity",
    "TaxAmount",
    "convert_postings",
    "fast_init",
    "format_amount",
    "is_country",
    "is_currency",
    "minor_units",
    "plural",
    "total",
    "validate_credit_note",
    "validate_customer",
    "validate_invoice",
    "validate_payment",
    "validate_tax_id",
]
