"""Stripe-shaped JSON for hand-built and generated histories, in both API shapes we read.

Why a builder of our own and not `billbridge.samples`: the samples generator makes one
realistic stream; the tests of issue 14 need exact control over each case (a zero
invoice, a payment before its invoice, a charge settled in another currency) and the
oracle needs every combination. Shapes follow shared/data/stripe-api-fixtures.json
(the current API: line `taxes`, `total_taxes`, `invoice_payment` objects, payment
intents) and localstripe's 2017-08-15 (invoice-level `tax_percent`/`tax` and `discount`,
`charge.invoice`, lines with `plan`). Amounts are integers in minor units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Api = Literal["current", "2017-08-15"]

RATE = "txr_std"  # the one tax rate id the tests map


def ts(day: str, hour: int = 10, minute: int = 0) -> int:
    """Unix time of `day` (YYYY-MM-DD) at hour:minute UTC."""
    moment = datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00").replace(tzinfo=UTC)
    return int(moment.timestamp())


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line: `amount` before discount, `tax` on the discounted amount.

    `period`: the service period (start, end) as Unix times; None states the invoice's
    creation time for both (a line with no service to spread).
    """

    amount: int
    discount: int = 0
    tax: int = 0
    product: str = "prod_a"
    description: str = "Service"
    period: tuple[int, int] | None = None


def customer(ident: str, *, currency: str, country: str = "DE") -> dict[str, Any]:
    return {
        "id": ident,
        "object": "customer",
        "created": ts("2026-01-01"),
        "name": f"Customer {ident}",
        "email": f"{ident}@example.com",
        "currency": currency,
        "address": {"country": country, "city": "Berlin", "line1": "1 Main St", "state": None},
        "livemode": False,
        "metadata": {},
    }


def invoice(
    ident: str,
    *,
    number: str,
    currency: str,
    lines: list[Line],
    created: int,
    customer: str = "cus_1",
    status: str = "open",
    voided_at: int | None = None,
    amount_paid: int = 0,
    api: Api = "current",
) -> dict[str, Any]:
    """An invoice; `api="2017-08-15"` states discount and tax on the invoice only."""
    subtotal = sum(line.amount for line in lines)
    discount = sum(line.discount for line in lines)
    tax = sum(line.tax for line in lines)
    total = subtotal - discount + tax
    data: dict[str, Any] = {
        "id": ident,
        "object": "invoice",
        "number": number,
        "customer": customer,
        "customer_name": f"Customer {customer}",
        "currency": currency,
        "created": created,
        "livemode": False,
        "subtotal": subtotal,
        "total": total,
        "amount_due": total,
        "amount_paid": amount_paid,
        "amount_remaining": total - amount_paid,
        "status": status,
        "status_transitions": {
            "finalized_at": created,
            "paid_at": created if status == "paid" else None,
            "voided_at": voided_at,
        },
    }
    items: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        item: dict[str, Any] = {
            "id": f"il_{ident}_{i}",
            "object": "line_item",
            "amount": line.amount,
            "currency": currency,
            "quantity": 1,
            "description": line.description,
            "period": {
                "start": line.period[0] if line.period else created,
                "end": line.period[1] if line.period else created,
            },
        }
        if api == "current":
            item["discount_amounts"] = (
                [{"amount": line.discount, "discount": "di_1"}] if line.discount else []
            )
            item["taxes"] = (
                [
                    {
                        "amount": line.tax,
                        "tax_behavior": "exclusive",
                        "tax_rate_details": {"tax_rate": RATE},
                        "taxable_amount": line.amount - line.discount,
                        "type": "tax_rate_details",
                    }
                ]
                if line.tax
                else []
            )
            item["pricing"] = {
                "type": "price_details",
                "price_details": {"price": f"price_{line.product}", "product": line.product},
                "unit_amount_decimal": str(line.amount),
            }
        else:
            item["plan"] = {"id": f"plan_{line.product}", "object": "plan",
                            "product": line.product, "amount": line.amount}  # fmt: skip
            item["type"] = "subscription"
        items.append(item)
    data["lines"] = {"object": "list", "data": items, "has_more": False}
    if api == "current":
        data["customer_address"] = {"country": "DE"}
        data["total_taxes"] = (
            [
                {
                    "amount": tax,
                    "tax_behavior": "exclusive",
                    "tax_rate_details": {"tax_rate": RATE},
                    "taxable_amount": subtotal - discount,
                    "type": "tax_rate_details",
                }
            ]
            if tax
            else []
        )
    else:
        data["date"] = created
        data["tax"] = tax
        data["total_tax_amounts"] = (
            [{"amount": tax, "inclusive": False, "tax_rate": RATE}] if tax else []
        )
        data["discount"] = (
            {"object": "discount", "coupon": {"id": "co_1", "object": "coupon"}}
            if discount
            else None
        )
    return data


def charge(
    ident: str,
    *,
    invoice: str | None,
    amount: int,
    fee: int,
    currency: str,
    created: int,
    api: Api = "current",
    settle: tuple[str, str, int] | None = None,
    intent: str | None = None,
) -> list[dict[str, Any]]:
    """The balance transaction and the charge (in that order).

    `settle=(currency, exchange_rate, amount)`: settled in another currency, `amount`
    and `fee` then in that currency. The current shape names no invoice on the charge
    (that is the `invoice_payment`'s job); the 2017 shape sets `charge.invoice`.
    """
    bt_cur, rate, bt_amount = settle if settle is not None else (currency, "", amount)
    txn = {
        "id": f"txn_{ident}",
        "object": "balance_transaction",
        "amount": bt_amount,
        "currency": bt_cur,
        "exchange_rate": float(rate) if rate else None,
        "fee": fee,
        "net": bt_amount - fee,
        "created": created,
        "status": "available",
        "type": "charge",
        "source": ident,
        "fee_details": [{"amount": fee, "currency": bt_cur, "type": "stripe_fee"}],
    }
    data: dict[str, Any] = {
        "id": ident,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "balance_transaction": txn["id"],
        "captured": True,
        "created": created,
        "currency": currency,
        "customer": "cus_1",
        "paid": True,
        "status": "succeeded",
        "livemode": False,
        "refunded": False,
    }
    if api == "current":
        data["payment_intent"] = intent or f"pi_{ident}"
        data["payment_method_details"] = {"type": "card", "card": {"brand": "visa"}}
    else:
        data["invoice"] = invoice
        data["source"] = {"id": f"card_{ident}", "object": "card", "brand": "Visa"}
    return [txn, data]


def invoice_payment(
    ident: str, *, invoice: str, intent: str, amount: int, currency: str, created: int
) -> dict[str, Any]:
    """The current API's link between an invoice and the payment intent that paid it."""
    return {
        "id": ident,
        "object": "invoice_payment",
        "invoice": invoice,
        "amount_paid": amount,
        "amount_requested": amount,
        "currency": currency,
        "created": created,
        "is_default": True,
        "livemode": False,
        "status": "paid",
        "payment": {"type": "payment_intent", "payment_intent": intent},
        "status_transitions": {"paid_at": created, "canceled_at": None},
    }


def refund(
    ident: str,
    *,
    charge: str,
    amount: int,
    currency: str,
    created: int,
    settle: tuple[str, int] | None = None,
) -> list[dict[str, Any]]:
    """The refund's balance transaction and the refund; `settle=(currency, amount)`."""
    bt_cur, bt_amount = settle if settle is not None else (currency, amount)
    txn = {
        "id": f"txn_{ident}",
        "object": "balance_transaction",
        "amount": -bt_amount,
        "currency": bt_cur,
        "fee": 0,
        "net": -bt_amount,
        "created": created,
        "status": "available",
        "type": "refund",
        "source": ident,
        "fee_details": [],
    }
    data = {
        "id": ident,
        "object": "refund",
        "amount": amount,
        "charge": charge,
        "balance_transaction": txn["id"],
        "created": created,
        "currency": currency,
        "reason": "requested_by_customer",
        "status": "succeeded",
        "metadata": {},
    }
    return [txn, data]


def credit_note(
    ident: str,
    *,
    invoice: dict[str, Any],
    number: str,
    lines: list[tuple[int, Line]],
    created: int,
    refund: tuple[str, int] | None = None,
    status: str = "issued",
    voided_at: int | None = None,
) -> dict[str, Any]:
    """A credit note of `invoice` (current shape): `lines` are (invoice line index, credited part).

    Each credited part states its own amount, discount and tax; `refund=(refund id,
    amount)` is the part paid back as a refund.
    """
    items = []
    total = 0
    tax_total = 0
    for j, (index, part) in enumerate(lines):
        line_id = invoice["lines"]["data"][index]["id"]
        taxes = (
            [
                {
                    "amount": part.tax,
                    "tax_behavior": "exclusive",
                    "tax_rate_details": {"tax_rate": RATE},
                    "taxable_amount": part.amount - part.discount,
                    "type": "tax_rate_details",
                }
            ]
            if part.tax
            else []
        )
        total += part.amount - part.discount + part.tax
        tax_total += part.tax
        items.append(
            {
                "id": f"cnli_{ident}_{j}",
                "object": "credit_note_line_item",
                "amount": part.amount,
                "discount_amount": part.discount,
                "description": part.description,
                "invoice_line_item": line_id,
                "quantity": 1,
                "taxes": taxes,
                "type": "invoice_line_item",
            }
        )
    return {
        "id": ident,
        "object": "credit_note",
        "number": number,
        "invoice": invoice["id"],
        "customer": invoice["customer"],
        "currency": invoice["currency"],
        "created": created,
        "status": status,
        "voided_at": voided_at,
        "type": "post_payment" if refund else "pre_payment",
        "reason": "product_unsatisfactory",
        "total": total,
        "subtotal": total - tax_total,
        "refunds": [{"amount_refunded": refund[1], "refund": refund[0], "type": "refund"}]
        if refund
        else [],
        "lines": {"object": "list", "data": items, "has_more": False},
    }
