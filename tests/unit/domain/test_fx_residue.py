"""The rounding residue of a same-rate conversion never turns a leg against itself (issue 14).

Found by the Beancount tolerance property test: with tiny amounts (a few minor units of
KWD converted into JPY) every leg of the larger side could round to 0 or 1, and the
residue, moved to the largest of them, turned a credit of 0.001 KWD into a debit of
1 JPY. No ledger can state that (Beancount prices are never negative; the rendered
entry was off by 2 JPY) and it means nothing. Now another leg takes the residue.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billbridge.domain import Money, Posting, convert_postings

_CURRENCIES = ("JPY", "EUR", "KWD")


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(_CURRENCIES),
    st.sampled_from(_CURRENCIES),
    st.lists(st.integers(1, 20), min_size=1, max_size=5),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(2000), places=4),
)
def test_every_converted_leg_keeps_the_side_of_its_transaction_amount(
    functional: str, source: str, credits_minor: list[int], rate: Decimal
) -> None:
    if functional == source or rate <= 0:
        return
    legs = [
        Posting(account="Assets:Receivable", amount=Money.from_minor(sum(credits_minor), source))
    ]
    legs += [
        Posting(account="Income:Sales", amount=Money.from_minor(-m, source)) for m in credits_minor
    ]
    out, residue = convert_postings(legs, [rate] * len(legs), functional)
    assert residue.amount == 0
    assert sum(p.amount.amount for p in out) == 0
    for posting in out:
        assert posting.original is not None
        converted, stated = posting.amount.amount, posting.original.amount
        assert not converted or (converted > 0) == (stated > 0), (posting, rate)


def test_the_case_that_was_found() -> None:
    # 0.004 KWD = 4 x 0.001 KWD at 600 JPY: the receivable 2.4 -> 2 JPY, each line
    # 0.6 -> 1 JPY; the residue -2 moved to a line made it +1 JPY, a debit.
    legs = [Posting(account="Assets:Receivable", amount=Money.from_minor(4, "KWD"))]
    legs += [Posting(account="Income:Sales", amount=Money.from_minor(-1, "KWD"))] * 4
    out, _ = convert_postings(legs, [Decimal(600)] * 5, "JPY")
    assert out[0].amount.amount == Decimal(4)  # the receivable takes it: 2.4 -> 4 JPY
    assert [p.amount.amount for p in out[1:]] == [Decimal(-1)] * 4
