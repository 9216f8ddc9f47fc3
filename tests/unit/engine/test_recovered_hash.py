"""The hash of an entry a target gave back after a crash equals the one it was planned with."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billbridge.connectors.base import LedgerLeg, Recovered
from billbridge.engine.entries import entry_hash, recovered_hash
from billbridge.testing import sample_entry


@pytest.mark.parametrize(
    ("currency", "amount"), [("EUR", "119.00"), ("JPY", "11900"), ("KWD", "11.999")]
)
def test_an_entry_read_back_hashes_as_it_was_planned(currency: str, amount: str) -> None:
    entry = sample_entry(3, currency=currency, amount=amount)
    back = Recovered(
        ref="x",
        date=entry.date,
        # as GnuCash gives amounts back: num/denom, so 119 rather than 119.00
        legs=tuple(
            LedgerLeg(
                account=p.account,
                amount=p.amount.amount.normalize(),
                currency=p.amount.currency,
            )
            for p in entry.postings
        ),
    )
    assert recovered_hash(back) == entry_hash(entry)


def test_another_date_or_amount_is_another_hash() -> None:
    entry = sample_entry(3)
    legs = tuple(
        LedgerLeg(account=p.account, amount=p.amount.amount, currency=p.amount.currency)
        for p in entry.postings
    )
    same = Recovered(ref="x", date=entry.date, legs=legs)
    moved = Recovered(ref="x", date=date(2020, 1, 1), legs=legs)
    first = legs[0]
    bigger = Recovered(
        ref="x",
        date=entry.date,
        legs=(
            LedgerLeg(account=first.account, amount=first.amount + Decimal(1), currency="EUR"),
            *legs[1:],
        ),
    )
    assert recovered_hash(same) == entry_hash(entry)
    assert recovered_hash(moved) != entry_hash(entry)
    assert recovered_hash(bigger) != entry_hash(entry)
