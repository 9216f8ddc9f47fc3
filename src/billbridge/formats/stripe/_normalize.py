"""Dispatch one Stripe object to its reader and turn signals into a `Normalized`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from billbridge.domain import Problem

from . import _credit_notes, _documents, _payments
from ._read import Bad, Wait, currency
from ._types import Normalized, Resolve, Value

__all__ = ["POSTABLE_OBJECTS", "REFERENCE_OBJECTS", "normalize"]

POSTABLE_OBJECTS: Final = frozenset(
    {"customer", "invoice", "credit_note", "charge", "refund", "payout"}
)
"""Objects that become a domain value and may be posted."""

REFERENCE_OBJECTS: Final = frozenset(
    {
        "balance_transaction",
        "payment_intent",
        "invoice_payment",
        "tax_rate",
        "product",
        "price",
        "plan",
        "tax_id",
        "subscription",
        "line_item",
        "credit_note_line_item",
        "invoiceitem",
        "event",
    }
)
"""Objects stored only so other records can look them up; never posted.

`event` is here on purpose: an event wraps a copy of an object (`data.object`) that an
export or the webhook receiver hands over as its own record; posting the wrapper too
would count it twice.
"""

_NOTHING: Final = Normalized(value=None)


def _customer(data: Mapping[str, Any], record: str, resolve: Resolve) -> Value | None:
    return _payments.customer(data)


def _payout(data: Mapping[str, Any], record: str, resolve: Resolve) -> Value | None:
    return _payments.payout(data)


def _charge(data: Mapping[str, Any], record: str, resolve: Resolve) -> Value | None:
    return _payments.charge(data, resolve=resolve)


def _refund(data: Mapping[str, Any], record: str, resolve: Resolve) -> Value | None:
    return _payments.refund(data, resolve=resolve)


_READERS: Final[dict[str, Callable[[Mapping[str, Any], str, Resolve], Value | None]]] = {
    "customer": _customer,
    "payout": _payout,
    "charge": _charge,
    "refund": _refund,
}


def _dispatch(data: Mapping[str, Any], record: str, resolve: Resolve) -> Normalized:
    obj = data.get("object")
    if type(obj) is not str or not obj:
        raise Bad(
            "object",
            "the record has no `object` (not a Stripe API object?)",
            "export whole Stripe API objects, one per line",
        )
    if type(data.get("id")) is not str or not data["id"]:
        raise Bad("id", f"the {obj} has no `id`", "export whole Stripe API objects")
    if obj == "invoice":
        inv, problems = _documents.invoice(data, record=record)
        return Normalized(value=inv, problems=problems)
    if obj == "credit_note":
        note, problems = _credit_notes.credit_note(data, record=record, resolve=resolve)
        return Normalized(value=note, problems=problems)
    reader = _READERS.get(obj)
    if reader is not None:
        value = reader(data, record, resolve)
        return _NOTHING if value is None else Normalized(value=value)
    if obj in REFERENCE_OBJECTS:
        if data.get("currency") is not None:
            currency(data)  # a look-up target with a broken amount is broken too
        return _NOTHING
    raise Bad(
        "object",
        f"unsupported Stripe object {obj!r}",
        "remove it from the export, or ask for support of this object",
    )


def normalize(data: Mapping[str, Any], *, record: str, resolve: Resolve) -> Normalized:
    """Read one Stripe object (either API shape) into a domain value, problems or a wait.

    Never raises for bad data: every defect becomes a permanent `Problem` naming the
    record and the field, so one bad record fails alone and the run goes on.
    """
    try:
        return _dispatch(data, record, resolve)
    except Wait as wait:
        return Normalized(value=None, waiting_on=(wait.obj, wait.ident), reason=wait.reason)
    except Bad as bad:
        return Normalized(
            value=None,
            problems=(Problem(record=record, field=bad.field, message=bad.message, hint=bad.hint),),
        )
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        # A shape no reader foresaw: still one failed record, never a crashed run.
        return Normalized(
            value=None,
            problems=(
                Problem(
                    record=record,
                    field="",
                    message=f"could not read the Stripe record: {exc}",
                    hint="report this record to the billbridge maintainers",
                ),
            ),
        )
