"""A small Stripe export (current API shape) of annual plans, for the deferred-revenue tests.

Built from the shapes in shared/data/stripe-api-fixtures.json, as `billbridge.samples`
builds its own: a EUR annual plan from 1 January 2025 (paid, with 19 % VAT), a JPY annual
plan from 15 February 2025, a KWD annual plan from 1 March 2025, a monthly EUR plan (not
deferred), and a credit note refunding half of the EUR plan on 10 April 2025.
Dates are midnights in Europe/Berlin, the workspace's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

BERLIN_WINTER = timezone(timedelta(hours=1))
BERLIN_SUMMER = timezone(timedelta(hours=2))

DEFERRAL = """\
deferral:
  account: Liabilities:Deferred-Revenue
  min_days: 32
"""


def midnight(day: date) -> int:
    """The Unix time of midnight in Berlin on `day` (summer time from 30 March 2025)."""
    zone = BERLIN_SUMMER if date(2025, 3, 30) <= day < date(2025, 10, 26) else BERLIN_WINTER
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def _customer(ident: str, name: str, country: str, currency: str) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "customer",
        "created": midnight(date(2024, 12, 1)),
        "name": name,
        "email": f"billing@{ident}.example",
        "currency": currency,
        "address": {"country": country},
        "tax_ids": {"object": "list", "has_more": False, "data": []},
    }


def _invoice(
    ident: str,
    *,
    customer: str,
    currency: str,
    number: str,
    day: date,
    end: date,
    amount: int,
    tax: int,
    rate: str,
    product: str,
) -> dict[str, Any]:
    t = midnight(day)
    line = {
        "id": f"il_{ident}",
        "object": "line_item",
        "invoice": f"in_{ident}",
        "amount": amount,
        "currency": currency,
        "quantity": 1,
        "description": f"{product} yearly",
        "period": {"start": t, "end": midnight(end)},
        "discount_amounts": [],
        "taxes": [
            {
                "amount": tax,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": rate},
                "taxable_amount": amount,
                "type": "tax_rate_details",
            }
        ],
        "pricing": {
            "type": "price_details",
            "price_details": {"price": f"price_{ident}", "product": product},
            "unit_amount_decimal": str(amount),
        },
    }
    return {
        "id": f"in_{ident}",
        "object": "invoice",
        "number": number,
        "customer": customer,
        "customer_name": customer.removeprefix("cus_").title(),
        "customer_address": {"country": "DE"},
        "customer_tax_ids": [],
        "currency": currency,
        "created": t,
        "subtotal": amount,
        "total_taxes": [
            {
                "amount": tax,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": rate},
                "taxable_amount": amount,
                "type": "tax_rate_details",
            }
        ],
        "total": amount + tax,
        "amount_due": amount + tax,
        "amount_paid": amount + tax,
        "amount_remaining": 0,
        "status": "paid",
        "status_transitions": {"finalized_at": t, "paid_at": t + 60, "voided_at": None},
        "lines": {"object": "list", "has_more": False, "data": [line]},
    }


def _payment(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    ident = invoice["id"].removeprefix("in_")
    amount, currency, t = invoice["total"], invoice["currency"], invoice["created"] + 60
    fee = amount * 29 // 1000
    return [
        {
            "id": f"txn_{ident}",
            "object": "balance_transaction",
            "amount": amount,
            "currency": currency,
            "fee": fee,
            "net": amount - fee,
            "created": t,
            "type": "charge",
            "source": f"ch_{ident}",
            "fee_details": [{"amount": fee, "currency": currency, "type": "stripe_fee"}],
        },
        {
            "id": f"inpay_{ident}",
            "object": "invoice_payment",
            "invoice": invoice["id"],
            "amount_paid": amount,
            "currency": currency,
            "created": t,
            "is_default": True,
            "status": "paid",
            "payment": {"type": "payment_intent", "payment_intent": f"pi_{ident}"},
        },
        {
            "id": f"ch_{ident}",
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "balance_transaction": f"txn_{ident}",
            "captured": True,
            "created": t,
            "currency": currency,
            "customer": invoice["customer"],
            "paid": True,
            "status": "succeeded",
            "payment_intent": f"pi_{ident}",
            "payment_method_details": {"type": "card", "card": {"brand": "visa"}},
        },
    ]


def _credit_note(invoice: dict[str, Any], *, day: date, share: int) -> list[dict[str, Any]]:
    """A credit note for `share` % of the invoice's line, refunded in full."""
    line = invoice["lines"]["data"][0]
    ident = invoice["id"].removeprefix("in_")
    amount = line["amount"] * share // 100
    tax = line["taxes"][0]["amount"] * share // 100
    t = midnight(day)
    taxes = [{**line["taxes"][0], "amount": tax, "taxable_amount": amount}]
    refund = {
        "id": f"re_{ident}",
        "object": "refund",
        "amount": amount + tax,
        "charge": f"ch_{ident}",
        "created": t,
        "currency": invoice["currency"],
        "payment_intent": f"pi_{ident}",
        "reason": "requested_by_customer",
        "status": "succeeded",
        "balance_transaction": f"txn_re_{ident}",
    }
    return [
        {
            "id": f"txn_re_{ident}",
            "object": "balance_transaction",
            "amount": -(amount + tax),
            "currency": invoice["currency"],
            "fee": 0,
            "net": -(amount + tax),
            "created": t,
            "type": "refund",
            "source": refund["id"],
            "fee_details": [],
        },
        refund,
        {
            "id": f"cn_{ident}",
            "object": "credit_note",
            "number": f"{invoice['number']}-CN-01",
            "invoice": invoice["id"],
            "customer": invoice["customer"],
            "currency": invoice["currency"],
            "created": t + 1,
            "status": "issued",
            "type": "post_payment",
            "reason": "order_change",
            "subtotal": amount,
            "total": amount + tax,
            "total_taxes": taxes,
            "refunds": [{"amount_refunded": amount + tax, "refund": refund["id"]}],
            "lines": {
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": f"cnli_{ident}",
                        "object": "credit_note_line_item",
                        "amount": amount,
                        "discount_amount": 0,
                        "description": line["description"],
                        "invoice_line_item": line["id"],
                        "quantity": 1,
                        "taxes": taxes,
                        "type": "invoice_line_item",
                    }
                ],
            },
        },
    ]


def annual_plans(*, credit_note: bool = True) -> list[dict[str, Any]]:
    """The export, in created order."""
    eur = _invoice(
        "annual_eur", customer="cus_globex", currency="eur", number="HB-0001",
        day=date(2025, 1, 1), end=date(2026, 1, 1), amount=120_000, tax=22_800,
        rate="txr_de_vat19", product="prod_pro",
    )  # fmt: skip
    jpy = _invoice(
        "annual_jpy", customer="cus_osaka", currency="jpy", number="HB-0002",
        day=date(2025, 2, 15), end=date(2026, 2, 15), amount=365_000, tax=36_500,
        rate="txr_jp_ct10", product="prod_support",
    )  # fmt: skip
    kwd = _invoice(
        "annual_kwd", customer="cus_gulf", currency="kwd", number="HB-0003",
        day=date(2025, 3, 1), end=date(2026, 3, 1), amount=1_000_000, tax=0,
        rate="txr_kw_zero", product="prod_storage",
    )  # fmt: skip
    monthly = _invoice(
        "monthly_eur", customer="cus_globex", currency="eur", number="HB-0004",
        day=date(2025, 3, 1), end=date(2025, 4, 1), amount=4_900, tax=931,
        rate="txr_de_vat19", product="prod_basic",
    )  # fmt: skip
    records: list[dict[str, Any]] = [
        _customer("cus_globex", "Globex GmbH", "DE", "eur"),
        _customer("cus_osaka", "Osaka KK", "JP", "jpy"),
        _customer("cus_gulf", "Gulf WLL", "KW", "kwd"),
    ]
    for invoice in (eur, jpy, kwd, monthly):
        records.append(invoice)
        records.extend(_payment(invoice))
    if credit_note:
        records.extend(_credit_note(eur, day=date(2025, 4, 10), share=50))
    return records
