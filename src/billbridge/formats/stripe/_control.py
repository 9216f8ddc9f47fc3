"""Control amounts: what each Stripe record says should reach the books, for `books check`.

Why beside the normalizer: a control total must come from the source's own figures
(the invoice's `total`, the charge's `amount`), not from the posting rules whose result
it checks. Each object has one primary effect (facet) whose debits must equal it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from billbridge.domain import CurrencyError, minor_units

__all__ = ["CONTROL_ACCOUNTS", "CONTROL_FIELDS", "control_amount"]

# object → (facet(s) of its primary journal entry, field holding the amount in minor units);
# a charge posted before its invoice was known is a `prepayment`
CONTROL_FIELDS: Final[dict[str, tuple[str | tuple[str, ...], str]]] = {
    "invoice": ("issue", "total"),
    "charge": (("payment", "prepayment"), "amount"),
    "refund": ("refund", "amount"),
    "credit_note": ("credit", "total"),
    "payout": ("payout", "amount"),
}


# object → the mapping's account roles (keys of `accounts:`) whose legs carry that amount
CONTROL_ACCOUNTS: Final[dict[str, tuple[str, ...]]] = {
    "invoice": ("receivable",),
    "charge": ("receivable", "unapplied"),
    "refund": ("refunds",),
    "credit_note": ("receivable", "refunds"),
    "payout": ("bank",),
}


def control_amount(
    obj: str, data: Mapping[str, Any]
) -> tuple[str | tuple[str, ...], str, Decimal] | None:
    """(facet, currency, amount) of a record's primary effect; None when it has none."""
    spec = CONTROL_FIELDS.get(obj)
    if spec is None:
        return None
    facet, field = spec
    minor, currency = data.get(field), data.get("currency")
    if not isinstance(minor, int) or not isinstance(currency, str):
        return None
    code = currency.upper()
    try:
        return facet, code, Decimal(minor).scaleb(-minor_units(code))
    except CurrencyError:  # an unknown currency: the record failed normalization already
        return None
