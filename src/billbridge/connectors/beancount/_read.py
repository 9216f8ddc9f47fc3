"""Read billbridge's postings back from a Beancount ledger, as Beancount itself sees them.

Why the real loader here and not the fast line scan of `_scan`: reconcile asks what the
books say now, after people may have edited, copied or retyped entries anywhere in the
ledger (not only in billbridge's own file), so the answer must come from the parser an
accountant's tools use. Entries without a `billbridge-idem` key are the user's own and
are not billbridge's to compare.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from beancount.core import data

from billbridge.connectors.base import LedgerLeg, LedgerPosting

from ._check import load

__all__ = ["read_postings"]


def read_postings(main: Path) -> Iterator[LedgerPosting]:
    """Every transaction carrying `billbridge-idem`, in file order, duplicates included."""
    entries, _errors = load(main)
    for entry in entries:
        if not isinstance(entry, data.Transaction) or "billbridge-idem" not in entry.meta:
            continue
        legs = tuple(
            LedgerLeg(account=p.account, amount=p.units.number, currency=p.units.currency)
            for p in entry.postings
            if p.units is not None and p.units.number is not None
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
