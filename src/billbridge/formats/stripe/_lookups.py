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

__all__ = ["LOOKUPS"]


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
    return _unexpanded(data, "charge", "charge")


LOOKUPS: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "charge": _charge,
    "refund": _refund,
}
