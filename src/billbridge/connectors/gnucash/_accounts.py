"""Which GnuCash account a mapping account becomes: its type and, per currency, its name.

Why a rule and not a lookup table in the mapping: the mapping names accounts the way
every target understands them (`Assets:Bank:Checking`); GnuCash additionally wants a
type (BANK, RECEIVABLE, …) that drives its reports and registers, and one commodity per
account. The type follows the root and the words in the name; an account used in a
second currency gets a child named after that currency (`Assets:Receivable:Stripe:JPY`),
because GnuCash cannot hold two currencies in one account without exchange rates.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ROOT_TYPES", "account_type", "gnucash_name"]

ROOT_TYPES: Final = {
    "Assets": "ASSET",
    "Liabilities": "LIABILITY",
    "Equity": "EQUITY",
    "Income": "INCOME",
    "Expenses": "EXPENSE",
}
_REFINE: Final = (
    ("ASSET", re.compile(r"(?i)\b(bank|checking|savings)\b"), "BANK"),
    ("ASSET", re.compile(r"(?i)\breceivables?\b"), "RECEIVABLE"),
    ("ASSET", re.compile(r"(?i)\bcash\b"), "CASH"),
    ("LIABILITY", re.compile(r"(?i)\bpayables?\b"), "PAYABLE"),
    ("LIABILITY", re.compile(r"(?i)\bcredit[- ]?card\b"), "CREDIT"),
)


def account_type(name: str) -> str | None:
    """The GnuCash type of mapping account `name`, or None when its root is not one of the five.

    >>> account_type("Assets:Bank:Checking"), account_type("Assets:Receivable:Stripe")
    ('BANK', 'RECEIVABLE')
    """
    root = ROOT_TYPES.get(name.split(":", 1)[0])
    if root is None:
        return None
    words = name.replace(":", " ").replace("-", " ")
    for base, pattern, refined in _REFINE:
        if base == root and pattern.search(words):
            return refined
    return root


def gnucash_name(name: str, currency: str, base_currency: str, existing: str | None) -> str:
    """The full GnuCash name that holds `name`'s amounts in `currency`.

    `existing` is the commodity of an account already called `name` in the book (None
    when there is none). The account itself is used when it is (or will be created) in
    this currency; otherwise a child named after the currency holds them.
    """
    if existing == currency or (existing is None and currency == base_currency):
        return name
    return f"{name}:{currency}"
