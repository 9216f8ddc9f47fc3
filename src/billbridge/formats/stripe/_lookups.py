"""The records a Stripe object's normalization may look up, read from the object alone.

Why: most look-ups of a backfill find their record among those just read, but some
never can (a charge's payment intent is not in an export), and each of those misses
cost the engine a store query of its own. With this list the engine asks the store for
a whole batch's look-ups in one query, and a miss costs nothing more. It is a hint, not
a rule: a look-up not listed here still works, at one query; one listed and never made
costs a little memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._read import mapping, ref_id

__all__ = ["LOOKUPS", "REVISITS"]


def _unexpanded(data: Mapping[str, Any], obj: str, field: str) -> list[str]:
    value = data.get(field)
    ident = ref_id(value)
    return [f"{obj}:{ident}"] if ident and mapping(value) is None else []


def _charge(data: Mapping[str, Any]) -> list[str]:
    if ref_id(data.get("invoice")):
        return _unexpanded(data, "balance_transaction", "balance_transaction")
    keys = _unexpanded(data, "balance_transaction", "balance_transaction")
    keys += _unexpanded(data, "payment_intent", "payment_intent")
    for payment in (ref_id(data.get("payment_intent")), ref_id(data.get("id"))):
        if payment:
            keys.append(f"invoice_payment_by_payment:{payment}")
    return keys


def _refund(data: Mapping[str, Any]) -> list[str]:
    keys = _unexpanded(data, "charge", "charge")
    return keys + _unexpanded(data, "balance_transaction", "balance_transaction")


LOOKUPS: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "charge": _charge,
    "refund": _refund,
}


def _invoice_payment(data: Mapping[str, Any]) -> list[str]:
    payment = mapping(data.get("payment"))
    if payment is None or not ref_id(data.get("invoice")):
        return []
    handles = (ref_id(payment.get("payment_intent")), ref_id(payment.get("charge")))
    return [h for h in handles if h]


def _payment_intent(data: Mapping[str, Any]) -> list[str]:
    ident = data.get("id")
    return [ident] if type(ident) is str and ref_id(data.get("invoice")) else []


REVISITS: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "invoice_payment": _invoice_payment,
    "payment_intent": _payment_intent,
}
"""Records that say, after the fact, which invoice a payment paid: the payment handles
(payment intent or charge id) they name. A charge posted as a prepayment before its link
existed carries that handle as its link, and the engine runs it again (FlowRuntime.revisits)."""
