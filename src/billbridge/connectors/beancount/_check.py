"""Read a ledger back through the real beancount loader: for tests and control totals.

Why the loader and not our own scan: these answer "what does Beancount itself see?", the
question a control total or an exactly-once assertion must ask of the real parser.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount import loader
from beancount.core import data

__all__ = ["balances", "load", "posted_keys"]


def load(main: Path) -> tuple[list[Any], list[Any]]:
    """(entries, errors) of the whole ledger, as `beancount.loader.load_file` gives them."""
    entries, errors, _options = loader.load_file(str(main))
    return list(entries), list(errors)


def balances(main: Path) -> dict[tuple[str, str], Decimal]:
    """(account, currency) → balance over every transaction in the ledger."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in load(main)[0]:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                if posting.units is not None and posting.units.number is not None:
                    totals[posting.account, posting.units.currency] += posting.units.number
    return dict(totals)


def posted_keys(main: Path) -> Counter[str]:
    """How often each `billbridge-idem` key occurs in the ledger (exactly-once checks)."""
    return Counter(
        entry.meta["billbridge-idem"]
        for entry in load(main)[0]
        if isinstance(entry, data.Transaction) and "billbridge-idem" in entry.meta
    )
