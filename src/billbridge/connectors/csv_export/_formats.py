"""The two import layouts, as pure functions from journal entries to CSV rows.

Column lists follow the vendors' published import templates:
- QuickBooks Online, "Import journal entries" (Intuit help article, Settings > Import
  data > Journal entries): Journal No., Journal Date, Account Name, Debits, Credits,
  Description, Name, plus Currency for companies with multicurrency turned on. One row
  per posting; rows sharing a Journal No. form one entry; dates MM/DD/YYYY.
- Xero, "Import or create invoices using a CSV file" (Xero Central; the
  SalesInvoiceTemplate.csv it offers): 27 columns, required ones starred; one row per
  invoice line; dates DD/MM/YYYY.

Why the Journal No. is a hash: QuickBooks keeps it to 21 characters, and it must be the
same for the same entry on every run, so it is derived from the idempotency key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from billbridge.connectors.base import RecordError
from billbridge.domain import JournalEntry

__all__ = ["FORMATS", "QUICKBOOKS_JOURNAL", "XERO_SALES_INVOICES", "ExportFormat", "journal_no"]

QUICKBOOKS_JOURNAL: Final = (
    "Journal No.",
    "Journal Date",
    "Account Name",
    "Debits",
    "Credits",
    "Description",
    "Name",
    "Currency",
)
XERO_SALES_INVOICES: Final = (
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
)

Row = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """`rows(entry, tax_type)` gives the entry's rows; () means "not part of this layout"."""

    name: str
    columns: tuple[str, ...]
    rows: Callable[[JournalEntry, str], Sequence[Row]]


def journal_no(key: str) -> str:
    """A stable 13-character journal number for an idempotency key."""
    return "BB-" + hashlib.blake2b(key.encode(), digest_size=5).hexdigest()


def _number(amount: Decimal) -> str:
    return f"{amount:f}"


def _quickbooks(entry: JournalEntry, _tax_type: str) -> Sequence[Row]:
    number = journal_no(entry.key)
    day = entry.date.strftime("%m/%d/%Y")
    rows = []
    for posting in entry.postings:
        amount = posting.amount.amount
        debit = _number(amount) if amount > 0 else ""
        credit = _number(-amount) if amount < 0 else ""
        description = posting.memo or entry.narration
        rows.append(
            (
                number,
                day,
                posting.account,
                debit,
                credit,
                f"{description} [{entry.source}]",
                entry.payee,
                posting.amount.currency,
            )
        )
    return rows


def _facet(entry: JournalEntry) -> tuple[str, str]:
    """(object, facet) of an entry, from its record key and idempotency key."""
    parts = entry.source.split(":")
    obj = parts[1] if len(parts) > 2 else ""
    return obj, entry.key.rsplit("|", 1)[-1]


def _xero(entry: JournalEntry, tax_type: str) -> Sequence[Row]:
    """An issued invoice as Xero invoice lines; every other entry is not a sales invoice.

    The entry's first posting is the amount the customer owes (the receivable); every
    other posting becomes a line with the opposite sign, so the lines add up to it.
    """
    if _facet(entry) != ("invoice", "issue"):
        return ()
    total, *lines = entry.postings
    if total.amount.amount <= 0 or not lines:
        raise RecordError(
            f"{entry.source}: a Xero sales invoice needs the receivable as its first, positive "
            "posting and at least one line"
        )
    if not entry.payee.strip():
        raise RecordError(
            f"{entry.source}: a Xero sales invoice needs *ContactName, and the invoice has no "
            "customer name; set the customer's name in Stripe, then replay the record"
        )
    number = dict(entry.meta).get("invoice-number") or entry.source.rsplit(":", 1)[-1]
    day = entry.date.strftime("%d/%m/%Y")
    rows = []
    for line in lines:
        row = dict.fromkeys(XERO_SALES_INVOICES, "")
        row.update(
            {
                "*ContactName": entry.payee,
                "*InvoiceNumber": number,
                "Reference": entry.source,
                "*InvoiceDate": day,
                "*DueDate": day,
                "*Description": line.memo or entry.narration,
                "*Quantity": "1",
                "*UnitAmount": _number(-line.amount.amount),
                "*AccountCode": line.account,
                "*TaxType": tax_type,
                "Currency": line.amount.currency,
            }
        )
        rows.append(tuple(row.values()))
    return rows


FORMATS: Final = {
    "quickbooks-journal": ExportFormat("quickbooks-journal", QUICKBOOKS_JOURNAL, _quickbooks),
    "xero-sales-invoices": ExportFormat("xero-sales-invoices", XERO_SALES_INVOICES, _xero),
}
