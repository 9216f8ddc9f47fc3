"""The pure billing model: money, parties, documents, payments and journal entries.

Imports nothing of billbridge and does no I/O, so every rule here can be tested with
plain values and reused by every connector.
"""

from __future__ import annotations

from .billing import (
    Address,
    Canonical,
    CreditNote,
    CreditNoteLine,
    Customer,
    Deal,
    Deleted,
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
    format_minor,
    is_currency,
    minor_units,
    total,
)
from .privacy import ERASED_DOMAIN, pseudonym, pseudonym_email, same_length
from .problems import DomainError, Problem, Severity
from .schedule import (
    Piece,
    Service,
    earned,
    earned_pair,
    month_start,
    pieces,
    recognized_until,
)
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
    "ERASED_DOMAIN",
    "MAX_DIGITS",
    "ROUNDING_MODES",
    "Address",
    "Canonical",
    "CreditNote",
    "CreditNoteLine",
    "CurrencyError",
    "CurrencyMismatchError",
    "Customer",
    "Deal",
    "Deleted",
    "DomainError",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "JournalEntry",
    "Money",
    "MoneyError",
    "Payment",
    "Payout",
    "Piece",
    "Posting",
    "Problem",
    "Rate",
    "RateTable",
    "RecordWords",
    "Refund",
    "Service",
    "Severity",
    "TaxAmount",
    "convert_postings",
    "earned",
    "earned_pair",
    "fast_init",
    "format_amount",
    "format_minor",
    "is_country",
    "is_currency",
    "minor_units",
    "month_start",
    "pieces",
    "plural",
    "pseudonym",
    "pseudonym_email",
    "recognized_until",
    "same_length",
    "total",
    "validate_credit_note",
    "validate_customer",
    "validate_invoice",
    "validate_payment",
    "validate_tax_id",
]
