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
from .journal import JournalEntry, Posting
from .money import (
    CurrencyError,
    CurrencyMismatchError,
    Money,
    MoneyError,
    is_currency,
    minor_units,
    total,
)
from .problems import DomainError, Problem, Severity

__all__ = [
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
    "Refund",
    "Severity",
    "TaxAmount",
    "is_currency",
    "minor_units",
    "total",
    "validate_invoice",
]
