"""The sample generator's customers and invoices, in either API shape.

Its own module because building an invoice (its lines, discounts, taxes and totals in
the current shape or the 2017-08-15 one) is the bulk of the shape knowledge and reads
apart from the money that settles it (`_money`) and the order of the stream
(`_generator`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._state import GenState
from ._tables import (
    COUNTRIES,
    DAY,
    NAMES,
    PRICES,
    PRODUCT_IDS,
    SAMPLE_PRODUCTS,
    SAMPLE_TAX_RATES,
    START,
    Customer,
    random_id,
    tax_amount,
)

__all__ = ["InvoiceMixin"]


class InvoiceMixin(GenState):
    """Customers (created first, once) and invoices with their lines."""

    def _customers(self) -> Iterator[dict[str, Any]]:
        weights = [c[5] for c in COUNTRIES]
        for i in range(min(300, max(1, self.n))):
            ident = random_id(self.ids) if self.ids is not None else f"{i + 1:06d}"
            country, cur, rates, city, suffix, _ = self.rng.choices(COUNTRIES, weights)[0]
            name = f"{NAMES[i % len(NAMES)]} {city} {suffix}"
            if i >= len(NAMES):
                name = f"{NAMES[i % len(NAMES)]} {i // len(NAMES)} {city} {suffix}"
            cust = Customer(
                id=f"cus_{ident}",
                name=name,
                email=f"billing{i + 1}@{NAMES[i % len(NAMES)].lower()}.example",
                country=country,
                currency=cur,
                rates=rates,
                tax_id=f"{country}{100000000 + i * 7919}" if country in ("DE", "FR", "GB") else "",
            )
            self.customers.append(cust)
            obj: dict[str, Any] = {
                "id": cust.id,
                "object": "customer",
                "created": START - DAY + i,
                "name": cust.name,
                "email": cust.email,
                "currency": cur,
                "address": {
                    "country": country,
                    "city": city,
                    "line1": f"{i + 1} Main Street",
                    "line2": None,
                    "postal_code": f"{10000 + i}",
                    "state": None,
                },
                "livemode": False,
                "metadata": {},
            }
            if self.current:
                obj["tax_ids"] = {
                    "object": "list",
                    "has_more": False,
                    "data": [
                        {
                            "id": f"txi_{ident}",
                            "object": "tax_id",
                            "type": "eu_vat",
                            "value": cust.tax_id,
                        },
                    ]
                    if cust.tax_id
                    else [],
                }
            else:
                obj["business_vat_id"] = cust.tax_id or None
            yield obj

    # ---------------------------------------------------------------- invoices
    def _lines(self, inv_id: str, cust: Customer, rate: str, t: int) -> list[dict[str, Any]]:
        cur = cust.currency
        lines = []
        for _ in range(self.rng.randint(1, 3)):
            product = self.rng.choice(PRODUCT_IDS)
            qty = self.rng.randint(1, 5) if product == "prod_seat" else 1
            unit = PRICES[(product, cur)]
            amount = unit * qty
            line: dict[str, Any] = {
                "id": self._id("il"),
                "object": "line_item",
                "invoice": inv_id,
                "amount": amount,
                "currency": cur,
                "quantity": qty,
                "description": f"{qty} x {SAMPLE_PRODUCTS[product][0]}",
                "period": {"start": t, "end": t + 30 * DAY},
                "livemode": False,
            }
            if self.current:
                discount = amount // 10 if self.rng.random() < 0.2 else 0
                net = amount - discount
                line["discount_amounts"] = (
                    [{"amount": discount, "discount": "di_sample10"}] if discount else []
                )
                line["taxes"] = [
                    {
                        "amount": tax_amount(net, rate),
                        "tax_behavior": "exclusive",
                        "tax_rate_details": {"tax_rate": rate},
                        "taxability_reason": "standard_rated",
                        "taxable_amount": net,
                        "type": "tax_rate_details",
                    }
                ]
                line["pricing"] = {
                    "type": "price_details",
                    "price_details": {"price": f"price_{product[5:]}_{cur}", "product": product},
                    "unit_amount_decimal": str(unit),
                }
            else:
                line["plan"] = {
                    "id": f"plan_{product[5:]}_{cur}",
                    "object": "plan",
                    "product": product,
                    "amount": unit,
                    "currency": cur,
                }
                line["tax_rates"] = []
                line["type"] = "subscription"
            lines.append(line)
        return lines

    def _invoice(
        self, inv_id: str, cust: Customer, t: int, *, status: str, rate: str | None = None
    ) -> dict[str, Any]:
        rate = rate or self.rng.choice(cust.rates)
        lines = self._lines(inv_id, cust, rate, t)
        subtotal = sum(li["amount"] for li in lines)
        inv: dict[str, Any] = {
            "id": inv_id,
            "object": "invoice",
            "number": f"BB-{self._number():07d}",
            "customer": cust.id,
            "customer_email": cust.email,
            "currency": cust.currency,
            "created": t,
            "livemode": False,
            "subtotal": subtotal,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{inv_id}/lines",
            },
        }
        if self.current:
            discount = sum(d["amount"] for li in lines for d in li["discount_amounts"])
            tax = sum(tx["amount"] for li in lines for tx in li["taxes"])
            inv["customer_name"] = cust.name
            inv["customer_address"] = {"country": cust.country}
            inv["customer_tax_ids"] = (
                [{"type": "eu_vat", "value": cust.tax_id}] if cust.tax_id else []
            )
            inv["total_taxes"] = [
                {
                    "amount": tax,
                    "tax_behavior": "exclusive",
                    "tax_rate_details": {"tax_rate": rate},
                    "taxable_amount": subtotal - discount,
                    "type": "tax_rate_details",
                }
            ]
            inv["total_discount_amounts"] = (
                [{"amount": discount, "discount": "di_sample10"}] if discount else []
            )
        else:
            discount = 0
            pct = SAMPLE_TAX_RATES[rate].percentage
            tax = tax_amount(subtotal, rate)
            inv["tax_percent"] = float(pct)
            inv["tax"] = tax
            inv["date"] = t
        total = subtotal - discount + tax
        paid = status == "paid"
        inv.update(
            {
                "total": total,
                "amount_due": total,
                "amount_paid": total if paid else 0,
                "amount_remaining": 0 if paid else total,
                "status": status,
                "status_transitions": {
                    "finalized_at": t,
                    "paid_at": t + 60 if paid else None,
                    "voided_at": t + DAY if status == "void" else None,
                    "marked_uncollectible_at": None,
                },
                "due_date": t + 14 * DAY,
            }
        )
        return inv
