"""A third-party SOURCE connector, as a plugin package would ship it: bills and receipts.

The system it reads is no Stripe: an invoicing tool that exports one JSON object per
line, in its own words (`bill`, `receipt`, `ref`, `no`, `issued`, `ccy`, `items`, …).
The plugin brings its own normalizer (raw line → canonical `Invoice` / `Payment` /
`Refund` / `Customer`; payments are filed under the object `payment`, the default), its
look-ups (a receipt resolves its bill) and nothing else: no `describe` (the engine then
reads the number and date off the canonical object), no events, no reconcile checks.

Not imported from here: `tests/plugins/__init__.py` copies this file beside a
`billbridge_orders-0.1.0.dist-info` registering `orders-file` in `billbridge.connectors`.
It uses only billbridge's public plugin API (`connectors.base`, `.source`, `.spec`,
`domain`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from billbridge.connectors.base import FatalError, RawRecord
from billbridge.connectors.source import Normalized, Resolve, SourceModel
from billbridge.connectors.spec import ConnectionConfig, ConnectorSpec
from billbridge.domain import (
    Address,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Money,
    MoneyError,
    Payment,
    Problem,
    Refund,
    TaxAmount,
    is_currency,
)


class OrdersConnection(ConnectionConfig):
    connector: Literal["orders-file"]
    path: Path


_OBJECTS = {"bill": "invoice", "receipt": "payment", "refund": "refund", "client": "customer"}


class OrdersSource:
    """Every line of the export file, each run (a snapshot); the cursor is a line number."""

    snapshot = True

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def read(self, cursor: str | None) -> Iterator[RawRecord]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise FatalError(f"cannot read {self.path}: {exc.strerror}") from exc
        skip = int(cursor) if cursor else 0
        with handle:
            for number, line in enumerate(handle, start=1):
                if number <= skip or not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    obj, ident = _OBJECTS[data["kind"]], str(data["ref"])
                except (ValueError, KeyError, TypeError) as exc:
                    why = f"line {number}: not a bill or receipt ({exc})"
                    yield RawRecord(object="line", id=str(number), data={}, raw=line,
                                    position=str(number), line=number, error=why)  # fmt: skip
                    continue
                yield RawRecord(
                    object=obj, id=ident, data=data, raw=line, position=str(number), line=number
                )


class _BadFieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _money(data: Mapping[str, Any], field: str, currency: str) -> Money:
    try:
        return Money(amount=Decimal(str(data[field])), currency=currency)
    except (KeyError, InvalidOperation, MoneyError) as exc:
        raise _BadFieldError(field, f"{field}: not an amount in {currency} ({exc})") from exc


def _day(data: Mapping[str, Any], field: str) -> datetime:
    try:
        day = date.fromisoformat(str(data[field]))
    except (KeyError, ValueError) as exc:
        raise _BadFieldError(field, f"{field}: not a date YYYY-MM-DD") from exc
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def _currency(data: Mapping[str, Any]) -> str:
    code = str(data.get("ccy", ""))
    if not is_currency(code):
        raise _BadFieldError("ccy", f"ccy: {code!r} is not an ISO 4217 currency")
    return code


def _bill(data: Mapping[str, Any]) -> Invoice:
    cur = _currency(data)
    lines: list[InvoiceLine] = []
    for i, item in enumerate(data.get("items") or []):
        net = _money(item, "net", cur)
        taxes = ()
        if item.get("vat"):
            taxes = (TaxAmount(rate=str(item["vat"]), amount=_money(item, "vat_amount", cur)),)
        lines.append(
            InvoiceLine(id=f"{data['ref']}-{i + 1}", description=str(item.get("text", "")),
                        quantity=Decimal(str(item.get("qty", "1"))), amount=net,
                        discount=Money.zero(cur), taxes=taxes, product=str(item.get("sku", "")))
        )  # fmt: skip
    subtotal = sum((line.amount for line in lines), Money.zero(cur))
    tax = sum((t.amount for line in lines for t in line.taxes), Money.zero(cur))
    paid = data.get("state") == "paid"
    client = data.get("client") or {}
    return Invoice(
        id=str(data["ref"]), number=str(data.get("no", "")), customer=str(client.get("code", "")),
        customer_name=str(client.get("name", "")), customer_country=str(client.get("country", "")),
        currency=cur, status=InvoiceStatus.PAID if paid else InvoiceStatus.OPEN,
        created=_day(data, "issued"), lines=tuple(lines), subtotal=subtotal, tax=tax,
        total=_money(data, "total", cur), amount_paid=subtotal + tax if paid else Money.zero(cur),
    )  # fmt: skip


def _receipt(data: Mapping[str, Any]) -> Payment:
    cur = _currency(data)
    gross, fee = _money(data, "gross", cur), _money(data, "fee", cur)
    return Payment(
        id=str(data["ref"]), invoice=str(data.get("bill", "")), customer="",
        created=_day(data, "on"), gross=gross, fee=fee, net=gross - fee, method="transfer",
    )  # fmt: skip


def _refund(data: Mapping[str, Any]) -> Refund:
    cur = _currency(data)
    return Refund(
        id=str(data["ref"]), payment=str(data.get("receipt", "")),
        invoice=str(data.get("bill", "")),
        created=_day(data, "on"), amount=_money(data, "amount", cur),
    )  # fmt: skip


def _client(data: Mapping[str, Any]) -> Customer:
    if not data.get("name"):
        raise _BadFieldError("name", "name: a client needs a name")
    where = data.get("address") or {}
    return Customer(
        id=str(data["ref"]), name=str(data["name"]), email=str(data.get("mail", "")),
        address=Address(line1=str(where.get("street", "")), city=str(where.get("town", "")),
                        postal_code=str(where.get("zip", "")), country=str(where.get("land", ""))),
    )  # fmt: skip


def normalize(data: Mapping[str, Any], *, record: str, resolve: Resolve) -> Normalized:
    """One line into an Invoice or a Payment; a bad field is a Problem naming it."""
    try:
        kind = data.get("kind")
        if kind == "bill":
            return Normalized(value=_bill(data))
        if kind == "receipt":
            return Normalized(value=_receipt(data))
        if kind == "refund":
            return Normalized(value=_refund(data))
        if kind == "client":
            return Normalized(value=_client(data))
        raise _BadFieldError("kind", f"kind: {kind!r} is neither a bill nor a receipt")
    except _BadFieldError as bad:
        problem = Problem(record=record, field=bad.field, message=str(bad),
                          hint="correct the line in the export and sync again")  # fmt: skip
        return Normalized(value=None, problems=(problem,))


def _receipt_lookups(data: Mapping[str, Any]) -> list[str]:
    return [f"invoice:{data['bill']}"] if data.get("bill") else []


MODEL = SourceModel(normalize=normalize, lookups={"payment": _receipt_lookups})

SPEC = ConnectorSpec(
    name="orders-file",
    config=OrdersConnection,
    role="source",
    factory=lambda name, conn: OrdersSource(name, conn.path),
    source_model=lambda conn: MODEL,
)
