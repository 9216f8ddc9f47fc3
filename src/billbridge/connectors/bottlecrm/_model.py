"""BottleCRM's source model: its accounts, contacts, deals and invoices in canonical terms.

| CRM object | record object | canonical value |
|---|---|---|
| account | `customer` | `Customer` (name, e-mail, address, currency) |
| contact | `contact` | none: a reference record (a person at an account) |
| opportunity | `deal` | `Deal` (won: a stage of the won kind; plan: a custom field) |
| invoice | `invoice` | `Invoice` (lines, tax, totals, payments; status in canonical words) |
| anything deleted | its object | `Deleted` |

Money is read from the CRM's decimal strings, never through a float. A field that
cannot be read is a problem naming it; the normalizer never raises for bad data.
Events: the CRM's webhook body `{"id", "event", "created_at", "data"}` carries a short
copy of the object; `parse_event` files it under its record key and the source's
`complete` fetches the whole object before it is processed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from billbridge.connectors.base import RawRecord
from billbridge.connectors.source import Described, Normalized, Resolve, SourceModel
from billbridge.domain import (
    Address,
    Customer,
    Deal,
    Deleted,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Money,
    MoneyError,
    Problem,
    TaxAmount,
    is_currency,
)

from ._privacy import redact, subjects
from ._shapes import OBJECT_OF, project, raw_bytes

__all__ = ["STATUS", "describe", "model", "parse_event"]

STATUS: Final = {
    "Draft": InvoiceStatus.DRAFT,
    "Sent": InvoiceStatus.OPEN,
    "Viewed": InvoiceStatus.OPEN,
    "Overdue": InvoiceStatus.OPEN,
    "Partially_Paid": InvoiceStatus.OPEN,
    "Paid": InvoiceStatus.PAID,
    "Cancelled": InvoiceStatus.VOID,
}
_HINT: Final = "correct the {what} in BottleCRM; the next sync reads it again"


class _BadFieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def _decimal(data: Mapping[str, Any], name: str, *, default: str | None = None) -> Decimal:
    value = data.get(name)
    if value is None and default is not None:
        value = default
    if isinstance(value, float) or not isinstance(value, str | int):
        raise _BadFieldError(name, f"{name} is {value!r}, not a decimal amount")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _BadFieldError(name, f"{name} {value!r} is not a number") from None
    if not number.is_finite():
        raise _BadFieldError(name, f"{name} {value!r} is not a finite number")
    return number


def _money(data: Mapping[str, Any], name: str, currency: str, *, default: str = "") -> Money:
    amount = _decimal(data, name, default=default or None)
    try:
        return Money(amount, currency)
    except MoneyError as exc:
        raise _BadFieldError(name, f"{name}: {exc}") from None


def _currency(data: Mapping[str, Any]) -> str:
    code = _text(data, "currency").upper()
    if not is_currency(code):
        raise _BadFieldError("currency", f"currency {data.get('currency')!r} is not ISO 4217")
    return code


def _when(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _BadFieldError(name, f"{name} {value!r} is not a date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(data: Mapping[str, Any], name: str) -> date | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise _BadFieldError(name, f"{name} {value!r} is not a date") from None


def _customer(data: Mapping[str, Any]) -> Customer:
    name = _text(data, "name")
    if not name:
        raise _BadFieldError("name", "the account has no name")
    code = _text(data, "currency").upper()
    return Customer(
        id=str(data["id"]),
        name=name,
        email=_text(data, "email"),
        address=Address(
            country=_text(data, "country").upper(),
            region=_text(data, "state"),
            city=_text(data, "city"),
            postal_code=_text(data, "postcode"),
            line1=_text(data, "address_line"),
        ),
        currency=code if is_currency(code) else "",
    )


def _deal(data: Mapping[str, Any], plan_field: str) -> Deal:
    account = data.get("account")
    if not isinstance(account, str) or not account:
        raise _BadFieldError("account", "the deal names no account")
    custom = data.get("custom_fields") or {}
    plan = custom.get(plan_field) if isinstance(custom, Mapping) else None
    amount = None
    if data.get("amount") not in (None, ""):
        amount = _money(data, "amount", _currency(data))
    kind = _text(data, "stage_kind")
    stage = _text(data, "stage")
    return Deal(
        id=str(data["id"]),
        name=_text(data, "name"),
        customer=account,
        stage=stage,
        won=kind == "won" or (not kind and stage == "CLOSED_WON"),
        plan=str(plan).strip() if plan not in (None, "") else "",
        amount=amount,
        closed_on=_day(data, "closed_on"),
    )


def _line(item: Mapping[str, Any], currency: str, at: int) -> InvoiceLine:
    ident = str(item.get("id") or at)
    quantity = _decimal(item, "quantity", default="1")
    unit = _decimal(item, "unit_price")
    try:
        gross = Money.rounded(quantity * unit, currency)
    except MoneyError as exc:
        raise _BadFieldError(f"line_items[{at}].unit_price", str(exc)) from None
    tax = _money(item, "tax_amount", currency, default="0")
    rate = _decimal(item, "tax_rate", default="0")
    taxes = (TaxAmount(rate=f"crm-{rate.normalize()}", amount=tax, percentage=rate),) if tax else ()
    return InvoiceLine(
        id=ident,
        description=_text(item, "description"),
        quantity=quantity,
        amount=gross,
        discount=_money(item, "discount_amount", currency, default="0"),
        taxes=taxes,
        unit_amount=unit,
    )


def _invoice(data: Mapping[str, Any], resolve: Resolve) -> Invoice:
    currency = _currency(data)
    status = STATUS.get(_text(data, "status"))
    if status is None:
        raise _BadFieldError("status", f"unknown invoice status {data.get('status')!r}")
    account = data.get("account")
    customer = resolve("customer", account) if isinstance(account, str) and account else None
    lines = tuple(_line(item, currency, at) for at, item in enumerate(data.get("line_items") or []))
    created = _when(data, "created_at")
    if created is None:
        raise _BadFieldError("created_at", "the invoice has no creation time")
    issued = _day(data, "issue_date")
    paid = [p for p in data.get("payments") or [] if isinstance(p, Mapping)]
    last = max((str(p.get("payment_date") or "") for p in paid), default="")
    return Invoice(
        id=str(data["id"]),
        number=_text(data, "invoice_number"),
        customer=account if isinstance(account, str) else "",
        customer_name=_text(customer, "name") if customer else _text(data, "client_name"),
        currency=currency,
        status=status,
        created=created,
        lines=lines,
        subtotal=_money(data, "subtotal", currency),
        tax=_money(data, "tax_amount", currency, default="0"),
        total=_money(data, "total_amount", currency),
        amount_paid=_money(data, "amount_paid", currency, default="0"),
        finalized_at=(
            datetime(issued.year, issued.month, issued.day, tzinfo=UTC) if issued else None
        ),
        paid_at=(
            datetime.fromisoformat(last[:10]).replace(tzinfo=UTC)
            if status is InvoiceStatus.PAID and last
            else None
        ),
        due_date=_day(data, "due_date"),
        customer_country=_text(customer, "country").upper() if customer else "",
    )


def model(plan_field: str = "plan") -> SourceModel:
    """The source model of a connection whose deals keep their plan in `plan_field`."""

    def read(data: Mapping[str, Any], resolve: Resolve) -> Normalized:
        kind = data.get("object")
        if not isinstance(data.get("id"), str):
            raise _BadFieldError("id", "the object has no id")
        if data.get("deleted") is True:
            return Normalized(value=Deleted(id=str(data["id"]), object=str(kind)))
        if kind == "customer":
            return Normalized(value=_customer(data))
        if kind == "contact":
            return Normalized(value=None)  # a person at an account: a reference record
        if kind == "deal":
            return Normalized(value=_deal(data, plan_field))
        if kind == "invoice":
            return Normalized(value=_invoice(data, resolve))
        raise _BadFieldError("object", f"not a CRM object billbridge reads: {kind!r}")

    def normalize(data: Mapping[str, Any], *, record: str, resolve: Resolve) -> Normalized:
        kind = data.get("object")
        try:
            return read(data, resolve)
        except _BadFieldError as bad:
            what = {"customer": "account", "deal": "deal", "invoice": "invoice"}.get(
                str(kind), "record"
            )
            problem = Problem(
                record=record, field=bad.field, message=str(bad), hint=_HINT.format(what=what)
            )
            return Normalized(value=None, problems=(problem,))

    return SourceModel(
        normalize=normalize,
        lookups={"invoice": _invoice_lookups},
        describe=describe,
        parse_event=parse_event,
        payment_object="payment",
        subjects=subjects,
        redact=redact,
    )


def _invoice_lookups(data: Mapping[str, Any]) -> list[str]:
    account = data.get("account")
    return [f"customer:{account}"] if isinstance(account, str) and account else []


def describe(data: Mapping[str, Any]) -> Described:
    try:
        created = _when(data, "created_at")
    except _BadFieldError:
        created = None
    return Described(
        number=str(data.get("invoice_number") or ""),
        created=created,
        status="draft" if data.get("status") == "Draft" else str(data.get("status") or ""),
    )


def parse_event(payload: bytes) -> RawRecord:
    """The record a stored CRM webhook names: its short copy, completed before processing."""
    event = orjson.loads(payload)
    prefix, _, action = str(event["event"]).partition(".")
    kind = OBJECT_OF[prefix]
    data = project(kind, event["data"])
    if action == "deleted":
        data["deleted"] = True
    return RawRecord(object=kind, id=str(data["id"]), data=data, raw=raw_bytes(data), position="")
