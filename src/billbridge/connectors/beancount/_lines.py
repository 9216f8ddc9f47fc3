"""Every posting of a Beancount ledger as plain rows, for `billbridge books check`.

Why through the loader: a control total must ask what Beancount itself sees, including
the user's own entries in the trial balance.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from beancount.core import data

from ._check import load

__all__ = ["ledger_lines"]


def ledger_lines(main: Path) -> Iterator[tuple[str, str, str, str, str, Decimal]]:
    """(entry id, idempotency key, record key, account, currency, amount) per posting."""
    for number, entry in enumerate(load(main)[0]):
        if not isinstance(entry, data.Transaction):
            continue
        idem = str(entry.meta.get("billbridge-idem", ""))
        record = str(entry.meta.get("billbridge-key", ""))
        entry_id = f"{entry.meta.get('filename', '')}:{entry.meta.get('lineno', number)}"
        for posting in entry.postings:
            units = posting.units
            if units is not None and units.number is not None:
                yield entry_id, idem, record, posting.account, units.currency, units.number
