"""The normalizer's contract with the engine: what it returns and how it looks things up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from billbridge.domain import (
    CreditNote,
    Customer,
    Invoice,
    Payment,
    Payout,
    Problem,
    Refund,
    fast_init,
)

__all__ = ["Normalized", "Resolve", "Value"]

Value = Customer | Invoice | CreditNote | Payment | Refund | Payout


class Resolve(Protocol):
    """The raw JSON of a related record the engine holds, or None when it holds none.

    Besides real objects the engine answers one alias: `invoice_payment_by_payment`,
    keyed by a payment intent or charge id, giving the `invoice_payment` that names it.
    """

    def __call__(self, object: str, id: str) -> Mapping[str, Any] | None: ...


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Normalized:
    """One Stripe object read into the domain.

    `value` None means: a reference object, nothing to post (a failed charge), or an
    unusable record (then `problems` holds errors). A record with error problems never
    has a value. `waiting_on` names the (object, id) this record needs first; the engine
    holds it and tries again when that record arrives.
    """

    value: Value | None
    problems: tuple[Problem, ...] = ()
    waiting_on: tuple[str, str] | None = None
    reason: str = ""
