"""Read billbridge's postings back from a Beancount ledger, as Beancount itself sees them.

Why Beancount's own parser and not the fast line scan of `_scan`: reconcile asks what the
books say now, after people may have edited, copied or retyped entries anywhere in the
ledger (not only in billbridge's own file), so the answer must come from the parser an
accountant's tools use. Why the parser and not the whole loader: the loader's booking and
plugins triple the time, and it writes a pickle cache beside the user's ledger; a
reconcile must not leave files in the books. Amounts are read as written (billbridge
always writes every amount), so a leg a person left for Beancount to interpolate shows
as a difference rather than being guessed; a leg at a price counts at its weight (the
converted amount billbridge posted). Entries without a `billbridge-idem` key are
the user's own and are not billbridge's to compare.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount.core import data
from beancount.parser import parser

from billbridge.connectors.base import LedgerLeg, LedgerPosting

from ._lines import weight_of

__all__ = ["read_postings"]


def _parse_all(main: Path) -> Iterator[Any]:
    """Entries of `main` and of every file it includes (recursively, each file once)."""
    seen: set[Path] = set()
    todo = [main.resolve()]
    while todo:
        path = todo.pop(0)
        if path in seen or not path.exists():
            continue  # a missing include is bean-check's error to report, not reconcile's
        seen.add(path)
        entries, _errors, options = parser.parse_file(str(path))
        yield from entries
        for pattern in options.get("include", []):
            found = [Path(p) for p in sorted(glob.glob(str(path.parent / pattern)))]
            todo.extend(p.resolve() for p in found)


def _leg(posting: data.Posting) -> LedgerLeg:
    """A leg at what it weighs: a converted leg (`119.00 USD @@ 107.10 EUR`) counts in the
    functional currency, as billbridge posted it and as GnuCash and the SQL GL hold it."""
    price = posting.price
    if price is not None and isinstance(price.number, Decimal):
        currency, amount = weight_of(posting)
        return LedgerLeg(account=posting.account, amount=amount, currency=currency)
    units = posting.units
    assert units is not None  # read_postings keeps only legs with a number
    assert isinstance(units.number, Decimal)
    return LedgerLeg(account=posting.account, amount=units.number, currency=units.currency)


def read_postings(main: Path) -> Iterator[LedgerPosting]:
    """Every transaction carrying `billbridge-idem`, duplicates included."""
    for entry in _parse_all(main):
        if not isinstance(entry, data.Transaction) or "billbridge-idem" not in entry.meta:
            continue
        legs = tuple(
            _leg(p)
            for p in entry.postings
            if p.units is not None and isinstance(p.units.number, Decimal)
        )
        filename = Path(str(entry.meta.get("filename", main))).name
        yield LedgerPosting(
            idempotency_key=str(entry.meta["billbridge-idem"]),
            record_key=str(entry.meta.get("billbridge-key", "")),
            ref=f"{filename}:{entry.meta.get('lineno', 0)}",
            date=entry.date,
            links=tuple(sorted(entry.links or ())),
            legs=legs,
        )
