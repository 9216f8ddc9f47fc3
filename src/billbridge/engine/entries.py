"""What identifies a record and what an entry does to the books, as plain functions.

Why apart from the pipeline: the hashes are the contract between a run, recovery after
a crash (`recovery.py`), deferred revenue and the store's conflict check. They must
give the same digest whichever module computes them, so there is one home for them.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from billbridge.connectors.base import Recovered
from billbridge.domain import JournalEntry, is_currency, minor_units

__all__ = ["entry_hash", "entry_lines", "record_key", "record_version", "recovered_hash"]


def record_key(connection: str, obj: str, ident: str) -> str:
    return f"{connection}:{obj}:{ident}"


def record_version(raw: bytes) -> str:
    """A record's version: the hash of its bytes as the source gave them."""
    return hashlib.blake2b(raw, digest_size=10).hexdigest()


def entry_lines(entry: JournalEntry) -> str:
    """The entry's lines as its posting keeps them for trace: "account amount currency"."""
    return "\n".join(f"{p.account} {p.amount.amount} {p.amount.currency}" for p in entry.postings)


def entry_hash(entry: JournalEntry) -> str:
    """Hash of what an entry does to the books (date and postings), not of its wording."""
    parts = [entry.date.isoformat()]
    parts.extend(f"{p.account}={p.amount.amount}{p.amount.currency}" for p in entry.postings)
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def recovered_hash(found: Recovered) -> str:
    """`entry_hash` of an entry as a target gave it back after a crash (`recover`).

    A target may hand an amount back with another exponent (GnuCash: `119`, not
    `119.00`): each is put at its currency's minor unit, as `Money` holds it, so the
    hash equals the one computed when the entry was planned.
    """
    parts = [found.date.isoformat()]
    parts.extend(
        f"{leg.account}={_at_minor_unit(leg.amount, leg.currency)}{leg.currency}"
        for leg in found.legs
    )
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def _at_minor_unit(amount: Decimal, currency: str) -> Decimal:
    if not is_currency(currency):
        return amount
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)))


# What is not one record's fault: the store or the disk failing, memory running out. These
