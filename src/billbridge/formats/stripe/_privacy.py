"""Personal data in Stripe objects, for GDPR erasure: whose it is, and its stand-ins.

A customer object is its own subject (`customer:<id>`); every object that names a
customer (an invoice, a charge, a payment intent, a credit note) carries that
customer's data: `customer_name`, `customer_email`, the addresses, a charge's
`billing_details`, a receipt e-mail. `redact` replaces names and e-mails with the
subject's pseudonym and drops phones, addresses and shipping details; amounts, numbers,
dates, currencies, statuses and tax ids stay (legal retention).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from billbridge.domain import pseudonym, pseudonym_email

__all__ = ["redact", "subjects"]

_NAMES: Final = frozenset({"name", "customer_name"})
_EMAILS: Final = frozenset({"email", "customer_email", "receipt_email"})
_DROPPED: Final = frozenset(
    {"phone", "customer_phone", "address", "customer_address", "shipping",
     "customer_shipping"}
)  # fmt: skip
_NESTED: Final = ("billing_details",)


def _customer_of(data: Mapping[str, Any]) -> str | None:
    if data.get("object") == "customer":
        ident = data.get("id")
        return ident if isinstance(ident, str) else None
    found = data.get("customer")
    if isinstance(found, Mapping):
        found = found.get("id")
    return found if isinstance(found, str) and found else None


def subjects(data: Mapping[str, Any]) -> list[str]:
    customer = _customer_of(data)
    return [f"customer:{customer}"] if customer else []


def _scrub(data: Mapping[str, Any], subject: str) -> dict[str, Any]:
    out = dict(data)
    for key, value in data.items():
        if value in (None, ""):
            continue
        if key in _NAMES and isinstance(value, str):
            out[key] = pseudonym(subject)
        elif key in _EMAILS and isinstance(value, str):
            out[key] = pseudonym_email(subject)
        elif key in _DROPPED:
            out[key] = None
        elif key in _NESTED and isinstance(value, Mapping):
            out[key] = _scrub(value, subject)
        elif key == "description" and data.get("object") == "customer":
            out[key] = None
    charges = data.get("charges")  # a payment intent's charges, as the 2017 shape lists them
    if isinstance(charges, Mapping) and isinstance(charges.get("data"), list):
        listed = [_scrub(c, subject) if isinstance(c, Mapping) else c for c in charges["data"]]
        out["charges"] = {**charges, "data": listed}
    return out


def redact(data: Mapping[str, Any], erased: frozenset[str]) -> Mapping[str, Any]:
    """`data` with the personal fields of the `erased` subjects replaced (else unchanged)."""
    mine = [s for s in subjects(data) if s in erased]
    return _scrub(data, mine[0]) if mine else data
