"""A Stripe record in a person's words, read from its stored snapshot (never raising).

Why lenient, unlike the normalizer: these words label the records that failed, so they
must come out of a record the normalizer refused too (an unknown currency, a missing
field): whatever can be read is shown, the rest stays empty. Related records (the
invoice a payment pays, the customer's name) are looked up through the same `Resolve`
the normalizer uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from billbridge.connectors.source import Resolve
from billbridge.domain import Money, MoneyError, RecordWords

from ._read import mapping, ref_id

__all__ = ["words"]

_KINDS: Final = {
    "invoice": "Invoice",
    "credit_note": "Credit note",
    "charge": "Payment",
    "payment_intent": "Payment",
    "refund": "Refund",
    "payout": "Payout",
    "customer": "Customer",
    "balance_transaction": "Balance transaction",
    "invoice_payment": "Invoice payment",
}
# object → (field holding its amount in minor units, field holding its date)
_FIGURES: Final = {
    "invoice": ("total", "created"),
    "credit_note": ("total", "created"),
    "charge": ("amount", "created"),
    "payment_intent": ("amount", "created"),
    "refund": ("amount", "created"),
    "payout": ("amount", "arrival_date"),
    "balance_transaction": ("amount", "created"),
    "invoice_payment": ("amount_paid", "created"),
}


def _text(data: Mapping[str, Any] | None, key: str) -> str:
    value = data.get(key) if data is not None else None
    return value.strip() if isinstance(value, str) else ""


def _day(data: Mapping[str, Any], field: str) -> date | None:
    transitions = mapping(data.get("status_transitions"))
    moment = transitions.get("finalized_at") if transitions is not None else None
    if not isinstance(moment, int) or isinstance(moment, bool):
        moment = data.get(field)
    if not isinstance(moment, int) or isinstance(moment, bool):
        return None
    try:
        return datetime.fromtimestamp(moment, UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


def _money(data: Mapping[str, Any], field: str) -> tuple[Money | None, str]:
    minor, currency = data.get(field), data.get("currency")
    if not isinstance(minor, int) or isinstance(minor, bool) or not isinstance(currency, str):
        return None, ""
    try:
        return Money.from_minor(minor, currency.upper()), ""
    except MoneyError:  # not an ISO 4217 code: say what the record holds
        return None, f"{minor} in {currency!r}"


def _party(data: Mapping[str, Any], resolve: Resolve) -> str:
    for key in ("customer_name", "name"):
        if found := _text(data, key):
            return found
    billing = mapping(data.get("billing_details"))
    if billing is not None and (found := _text(billing, "name")):
        return found
    customer = data.get("customer")
    if (expanded := mapping(customer)) is not None:
        return _text(expanded, "name") or _text(expanded, "email") or ref_id(customer)
    ident = ref_id(customer)
    if ident:
        known = resolve("customer", ident)
        return (_text(known, "name") or _text(known, "email")) if known else ident
    return _text(data, "customer_email") or _text(data, "email")


def _invoice_of(obj: str, data: Mapping[str, Any], resolve: Resolve) -> Mapping[str, Any] | None:
    """The invoice a payment or refund belongs to, when the store holds it."""
    if obj == "refund":
        charge_id = ref_id(data.get("charge"))
        charge = mapping(data.get("charge")) or (
            resolve("charge", charge_id) if charge_id else None
        )
        return _invoice_of("charge", charge, resolve) if charge is not None else None
    invoice = data.get("invoice")
    if (expanded := mapping(invoice)) is not None:
        return expanded
    if ident := ref_id(invoice):
        return resolve("invoice", ident)
    for payment in (ref_id(data.get("payment_intent")), ref_id(data.get("id"))):
        link = resolve("invoice_payment_by_payment", payment) if payment else None
        if link is not None and (ident := ref_id(link.get("invoice"))):
            return resolve("invoice", ident)
    return None


def words(obj: str, ident: str, data: Mapping[str, Any] | None, resolve: Resolve) -> RecordWords:
    """How the record `obj`/`ident` reads to a person; `data` is its snapshot (None: none).

    A line of an export that could not be read (`unknown`, `line-12`) is named by its line.
    """
    if obj == "unknown":  # `line-12`, or `file.jsonl-line-12` in a folder of exports
        file, _, line = ident.rpartition("line-")
        file = file.removesuffix("-")
        return RecordWords(
            kind="Unreadable export line", number=f"{line} of {file}" if file else line
        )
    if data is None:
        return RecordWords(kind=_KINDS.get(obj, obj.replace("_", " ").capitalize()), number=ident)
    kind = _KINDS.get(obj, obj.replace("_", " ").capitalize())
    number = _text(data, "number")
    party = _party(data, resolve)
    if obj in {"charge", "payment_intent", "refund"}:
        invoice = _invoice_of(obj, data, resolve)
        invoice_number = _text(invoice, "number") if invoice is not None else ""
        number = f"for {invoice_number}" if invoice_number else ident
        if not party and invoice is not None:  # a refund names no customer; its invoice does
            party = _party(invoice, resolve)
    elif not number:
        number = ident
    field, when = _FIGURES.get(obj, ("amount", "created"))
    amount, amount_text = _money(data, field)
    return RecordWords(
        kind=kind,
        number=number,
        counterparty=party,
        amount=amount,
        amount_text=amount_text,
        day=_day(data, when),
    )
