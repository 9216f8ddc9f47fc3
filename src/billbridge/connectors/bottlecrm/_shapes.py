"""The CRM's objects as billbridge keeps them: a fixed projection of each resource.

Why project: the CRM answers the same object in several shapes (a list item, a detail
wrapper, a create answer, a webhook's short copy) and with figures that change without
the object changing (an account's `rollups` move when one of its deals is won). A
snapshot source tells a change by the content hash of what it read, so every path
(list, detail, webhook completion) turns an object into the same bytes through these
projections: only the fields that mean something, related objects as ids, keys sorted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

__all__ = ["KINDS", "OBJECT_OF", "RESOURCE_OF", "project", "raw_bytes", "ref", "tombstone"]

# our object name -> the CRM's API resource, and the event prefix -> our object name
RESOURCE_OF: Final = {
    "customer": "accounts",
    "contact": "contacts",
    "deal": "opportunities",
    "invoice": "invoices",
}
OBJECT_OF: Final = {"account": "customer", "contact": "contact", "deal": "deal",
                    "invoice": "invoice"}  # fmt: skip
KINDS: Final = {"accounts": "customer", "contacts": "contact", "deals": "deal",
                "invoices": "invoice"}  # fmt: skip

_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "customer": (
        "id", "name", "email", "phone", "website", "industry", "currency", "address_line",
        "city", "state", "postcode", "country", "description", "custom_fields", "is_active",
        "created_at",
    ),
    "contact": (
        "id", "first_name", "last_name", "email", "phone", "title", "account", "address_line",
        "city", "state", "postcode", "country", "custom_fields", "is_active", "created_at",
    ),
    "deal": (
        "id", "name", "account", "stage", "stage_kind", "currency", "amount", "probability",
        "closed_on", "custom_fields", "is_active", "created_at",
    ),
    "invoice": (
        "id", "invoice_number", "invoice_title", "status", "account", "contact", "currency",
        "client_name", "client_email", "subtotal", "discount_amount", "tax_amount",
        "shipping_amount", "total_amount", "amount_paid", "amount_due", "issue_date",
        "due_date", "paid_at", "po_number", "custom_fields", "created_at",
    ),
}  # fmt: skip
_LINE_KEYS: Final = ("id", "description", "quantity", "unit_price", "discount_amount",
                     "tax_rate", "tax_amount", "total")  # fmt: skip
_PAYMENT_KEYS: Final = ("id", "amount", "payment_date", "reference_number")


def ref(value: Any) -> str | None:
    """A related object as its id: the CRM gives an id, or `{"id": …, "name": …}`."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if isinstance(value, str) and value else None


def project(kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields billbridge keeps of one CRM object of `kind` (our object name)."""
    data: dict[str, Any] = {"object": kind}
    for key in _KEYS[kind]:
        value = item.get(key)
        if key in ("account", "contact"):
            value = ref(value) if key in item else item.get(f"{key}_id")
        data[key] = value
    if kind == "invoice":
        data["line_items"] = [
            {k: line.get(k) for k in _LINE_KEYS} for line in item.get("line_items") or []
        ]
        data["payments"] = sorted(
            ({k: pay.get(k) for k in _PAYMENT_KEYS} for pay in item.get("payments") or []),
            key=lambda p: (str(p.get("payment_date")), str(p.get("id"))),
        )
    return data


def tombstone(kind: str, ident: str) -> dict[str, Any]:
    """What billbridge keeps of an object the CRM no longer holds."""
    return {"object": kind, "id": ident, "deleted": True}


def raw_bytes(data: Mapping[str, Any]) -> bytes:
    """The one byte form of a projection (its content hash is the record's version)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
