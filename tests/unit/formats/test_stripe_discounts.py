"""localstripe's 2017-08-15 coupon: a discount stated only on the invoice (issue 14).

That shape has one `discount` on the invoice and no per-line discounts: the lines sum to
the subtotal and the total is subtotal - discount + tax. Before, such an invoice failed
validation ("lines sum to … but total is …"); a 100 % coupon made every trial-to-paid
subscription a failed record.
"""

from __future__ import annotations

from decimal import Decimal

from billbridge.domain import Invoice, Money

from .test_stripe import ls_invoice, run

_COUPON = {"object": "discount", "coupon": {"id": "co_half", "percent_off": 50}}


def test_an_invoice_level_coupon_is_spread_over_the_lines() -> None:
    # 1501 subtotal, 50 % off = 750.50 -> 751 off (Stripe rounds), tax 19 % of 750 = 143
    n = run(ls_invoice(discount=_COUPON, tax=143, total=1501 - 751 + 143, amount_paid=893))
    assert n.problems == ()
    inv = n.value
    assert isinstance(inv, Invoice)
    discounts = [line.discount.minor for line in inv.lines]
    assert sum(discounts) == 751
    assert discounts == [500, 251]  # proportional to 1000 and 501, no minor unit lost
    assert sum(t.amount.minor for line in inv.lines for t in line.taxes) == 143
    # the tax follows the discounted amounts
    assert [line.taxes[0].amount for line in inv.lines] == [
        Money.from_minor(95, "EUR"),
        Money.from_minor(48, "EUR"),
    ]


def test_a_full_coupon_makes_a_zero_invoice_that_normalizes() -> None:
    n = run(ls_invoice(discount=_COUPON, tax=0, tax_percent=19.0, total=0, amount_paid=0))
    assert n.problems == ()
    inv = n.value
    assert isinstance(inv, Invoice)
    assert inv.total.amount == Decimal("0.00")
    assert [line.discount.minor for line in inv.lines] == [1000, 501]


def test_without_a_discount_object_a_mismatch_still_fails() -> None:
    n = run(ls_invoice(total=1000, amount_paid=1000))
    assert n.value is None
    assert [p.field for p in n.problems] == ["total"]
