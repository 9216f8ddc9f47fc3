"""How far along its life a Stripe object is: for two events about it in the same second.

Why: Stripe stamps an event's `created` in whole seconds and does not promise delivery
order, so `invoice.finalized` and `invoice.paid` of one invoice often share a second
and may arrive paid-first. Their times cannot tell them apart; the objects can. An
invoice moves draft → open → (uncollectible →) paid or void and never back; what a
charge has captured and refunded only grows. `lifecycle(obj)` is a tuple that never
decreases while an object lives on; the webhook inbox compares two of them when event
times tie, and skips the event whose object is behind the one already applied.

None means no order is known (a customer, an unknown status): arrival order decides.
Statuses of one rank (a refund `succeeded` then `failed`, a payout `paid` then
`failed`) are real moves in either direction, so they never outrank each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["lifecycle"]

_RANKS: Final[dict[str, dict[str, int]]] = {
    "invoice": {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3},
    "credit_note": {"issued": 0, "void": 1},
    "charge": {"pending": 0, "succeeded": 1, "failed": 1},
    "refund": {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 1, "canceled": 1},
    "payout": {"pending": 0, "in_transit": 1, "paid": 2, "failed": 2, "canceled": 2},
    "payment_intent": {
        "requires_payment_method": 0,
        "requires_confirmation": 0,
        "requires_action": 0,
        "processing": 1,
        "requires_capture": 1,
        "succeeded": 2,
        "canceled": 2,
    },
}
# Amounts that only grow over an object's life (minor units), compared after the status.
_GROWING: Final[dict[str, tuple[str, ...]]] = {
    "invoice": ("amount_paid",),
    "charge": ("amount_captured", "amount_refunded"),
    "payment_intent": ("amount_received",),
}


def lifecycle(obj: Mapping[str, Any]) -> tuple[int, ...] | None:
    """(status rank, growing amounts…) of a Stripe object, or None when unknown."""
    kind = obj.get("object")
    ranks = _RANKS.get(kind) if isinstance(kind, str) else None
    status = obj.get("status")
    if ranks is None or not isinstance(status, str) or status not in ranks:
        return None
    amounts = (obj.get(name) for name in _GROWING.get(str(kind), ()))
    return (ranks[status], *(a if type(a) is int else 0 for a in amounts))
