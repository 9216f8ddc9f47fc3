"""Every posting of a Beancount ledger as plain rows, for `billbridge books check`.

Why through the loader: a control total must ask what Beancount itself sees, including
the user's own entries in the trial balance. Each leg is given twice: at its weight
(its cost or price: what Beancount balances, in the functional currency for a converted
leg) and as written (its units, the transaction currency), so a trial balance adds what
balances and a control total compares what the source stated.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Final

from beancount.core import convert, data

from billbridge.domain import is_currency, minor_units

from ._check import load

__all__ = ["ledger_lines", "weight_of"]

# A weight this close to the currency's minor unit is a price's rounding noise: Beancount
# stores `@@ 107.10 EUR` as a 28-digit per-unit price, and units x price misses 107.10 by
# about 1e-27. Further off, it is a real sub-cent amount (a share price) and is kept.
_NOISE: Final = Decimal("1e-18")


def weight_of(posting: data.Posting) -> tuple[str, Decimal]:
    """(currency, amount) a posting weighs in its transaction's balance, noise removed."""
    weight = convert.get_weight(posting)  # type: ignore[no-untyped-call]
    number = weight.number
    if (posting.price is not None or posting.cost is not None) and is_currency(weight.currency):
        exact = number.quantize(Decimal(1).scaleb(-minor_units(weight.currency)))
        if abs(exact - number) < _NOISE:
            number = exact
    return weight.currency, number


def ledger_lines(
    main: Path,
) -> Iterator[tuple[str, str, str, str, str, Decimal, str, Decimal]]:
    """(entry id, idempotency key, record key, account, weight currency, weight, units
    currency, units) per posting."""
    for number, entry in enumerate(load(main)[0]):
        if not isinstance(entry, data.Transaction):
            continue
        idem = str(entry.meta.get("billbridge-idem", ""))
        record = str(entry.meta.get("billbridge-key", ""))
        entry_id = f"{entry.meta.get('filename', '')}:{entry.meta.get('lineno', number)}"
        for posting in entry.postings:
            units = posting.units
            if units is None or units.number is None:
                continue
            currency, weight = weight_of(posting)
            yield (entry_id, idem, record, posting.account, currency, weight,
                   units.currency, units.number)  # fmt: skip
