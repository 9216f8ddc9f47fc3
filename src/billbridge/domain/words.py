"""A record in a person's words: what it is, its number, who, how much, when.

Why a value of its own: the person who owns the exception queue thinks "invoice
HB-0042, Globex, 1,190.00 EUR", not `stripe:invoice:in_1Qx…`. Every surface that shows a
record (queue, causes, trace, audit, alerts, the daily report) shows these same words
beside the key, and they come from one place: the source's format reads them from the
record's stored snapshot (formats/stripe/_describe.py), so no surface reads a system's
field names itself. Pure: no I/O, and nothing here knows any system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .money import Money

__all__ = ["RecordWords", "format_amount", "plural"]


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 journal entry`, `2 journal entries`: the count and the noun that agrees with it."""
    noun = one if count == 1 else (many if many is not None else f"{one}s")
    return f"{count:,} {noun}"


def format_amount(amount: Decimal, currency: str) -> str:
    """An amount as finance reads it: `1,190.00 EUR`, `-12.500 KWD`, `1,500 JPY`."""
    return f"{amount:,f} {currency}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordWords:
    """How one record reads to a person. Every part may be empty when the record lacks it.

    `kind` is the kind of document in words ("Invoice", "Payment", "Line of the export");
    `number` its document number ("BB-0042"; for a payment, the invoice it pays: "for
    BB-0042"); `counterparty` the customer; `amount` the money it carries, when its
    currency is a real one, else `amount_text` alone says what the record holds
    ("1190 in 'eurx'"); `day` its date (finalized, paid, created).
    """

    kind: str
    number: str = ""
    counterparty: str = ""
    amount: Money | None = None
    amount_text: str = ""
    day: date | None = None

    @property
    def money_text(self) -> str:
        if self.amount is not None:
            return format_amount(self.amount.amount, self.amount.currency)
        return self.amount_text

    def text(self) -> str:
        """One line: `Invoice BB-0042 · Globex Corp · 1,190.00 EUR · 2026-01-05`."""
        head = f"{self.kind} {self.number}".strip()
        parts = [head, self.counterparty, self.money_text, self.day.isoformat() if self.day else ""]
        return " · ".join(p for p in parts if p)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "number": self.number,
            "counterparty": self.counterparty,
            "amount": str(self.amount.amount) if self.amount is not None else "",
            "currency": self.amount.currency if self.amount is not None else "",
            "amount_text": self.money_text,
            "date": self.day.isoformat() if self.day else "",
            "text": self.text(),
        }
