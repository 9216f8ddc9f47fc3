"""`lifecycle`: an order of a Stripe object's states that never goes back."""

from __future__ import annotations

from typing import Any

import pytest

from billbridge.formats.stripe import lifecycle


def _obj(kind: str, status: str, **amounts: int) -> dict[str, Any]:
    return {"object": kind, "id": "x_1", "status": status, **amounts}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (_obj("invoice", "draft"), _obj("invoice", "open")),
        (_obj("invoice", "open"), _obj("invoice", "paid", amount_paid=100)),
        (_obj("invoice", "open"), _obj("invoice", "void")),
        (_obj("invoice", "uncollectible"), _obj("invoice", "paid")),
        (_obj("credit_note", "issued"), _obj("credit_note", "void")),
        (_obj("charge", "pending"), _obj("charge", "succeeded")),
        (
            _obj("charge", "succeeded", amount_captured=500, amount_refunded=0),
            _obj("charge", "succeeded", amount_captured=500, amount_refunded=200),
        ),
        (_obj("payout", "in_transit"), _obj("payout", "paid")),
        (_obj("refund", "pending"), _obj("refund", "succeeded")),
    ],
)
def test_later_states_rank_higher(before: dict[str, Any], after: dict[str, Any]) -> None:
    early, late = lifecycle(before), lifecycle(after)
    assert early is not None and late is not None
    assert early < late


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (_obj("refund", "succeeded"), _obj("refund", "failed")),  # both ways happen
        (_obj("payout", "paid"), _obj("payout", "failed")),
        (_obj("invoice", "paid"), _obj("invoice", "void")),
    ],
)
def test_states_that_move_both_ways_do_not_outrank_each_other(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert lifecycle(one) == lifecycle(other)


@pytest.mark.parametrize(
    "obj",
    [
        {"object": "customer", "id": "cus_1"},
        _obj("invoice", "someday"),
        {"object": "invoice", "id": "in_1"},
        _obj("balance_transaction", "available"),
    ],
)
def test_no_order_is_known(obj: dict[str, Any]) -> None:
    assert lifecycle(obj) is None
