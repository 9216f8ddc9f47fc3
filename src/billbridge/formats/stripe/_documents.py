"""Stripe invoices → `Invoice`, in every shape we read (credit notes: _credit_notes.py).

Shapes (see shared/data/README.md):
- current API: lines carry `taxes` (`tax_rate_details.tax_rate`, `tax_behavior`) and
  `pricing.price_details.product`; the invoice carries `total_taxes`.
- older API: lines carry `tax_amounts` (`tax_rate` id or expanded) and `price`/`plan`;
  the invoice carries `tax` and `total_tax_amounts`.
- localstripe (2017-08-15): taxes may exist only at invoice level: `tax_percent` (legacy)
  or `default_tax_rates` (then `total_tax_amounts` is filled but lines have none).

Invoice-level taxes are spread over the lines, proportionally to each line's net amount
with `Money.allocate` (largest remainder, so no cent is lost), because the domain keeps
taxes per line. A `tax_percent` invoice gets one rate id `tax_percent:<percent>`, e.g.
`tax_percent:19.0`, which a mapping's tax table can name like any `txr_…` id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, Final

from billbridge.domain import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Money,
    Problem,
    TaxAmount,
    minor_units,
    validate_invoice,
)

from ._read import (
    Bad,
    amount,
    currency,
    decimal_or_none,
    line_list,
    mapping,
    money,
    optional_day,
    optional_ts,
    ref_id,
    required_int,
    tax_total,
    taxes,
    text,
    timestamp,
)

__all__ = ["invoice", "product_of"]

_ONE = Decimal(1)
_STATUSES: Final = {status.value: status for status in InvoiceStatus}


def product_of(line: Mapping[str, Any]) -> str:
    """The product a line sells (current `pricing`, or an older `price`/`plan`)."""
    pricing = mapping(line.get("pricing"))
    if pricing is not None:
        details = mapping(pricing.get("price_details"))
        if details is not None:
            product = ref_id(details.get("product"))
            if product:
                return product
    for key in ("price", "plan"):
        price = mapping(line.get(key))
        if price is not None:
            product = ref_id(price.get("product"))
            if product:
                return product
    return ""


def _unit_amount(line: Mapping[str, Any], cur: str) -> Decimal | None:
    pricing = mapping(line.get("pricing"))
    value: Decimal | None = None
    if pricing is not None:
        value = decimal_or_none(pricing.get("unit_amount_decimal"))
    if value is None:
        for key in ("price", "plan"):
            price = mapping(line.get(key))
            if price is not None:
                raw = price.get("unit_amount", price.get("amount"))
                if type(raw) is int:
                    value = Decimal(raw)
                    break
    return None if value is None else value.scaleb(-minor_units(cur))


def _quantity(line: Mapping[str, Any]) -> Decimal:
    value = line.get("quantity")
    if type(value) is int:
        return Decimal(value)
    return decimal_or_none(line.get("quantity_decimal")) or _ONE


def _invoice_tax(data: Mapping[str, Any], cur: str) -> Money:
    if "total_taxes" in data:
        return tax_total(data, cur, "total_taxes")
    if "tax" in data:
        if data["tax"] is None:
            return Money.zero(cur)
        return amount(data, "tax", "tax", cur)
    raise Bad("tax", "the invoice has neither total_taxes (current API) nor tax (older API)")


def _invoice_level_taxes(data: Mapping[str, Any], cur: str, tax: Money) -> list[TaxAmount]:
    """Taxes stated only on the invoice (localstripe), aggregated per rate."""
    if data.get("total_tax_amounts"):
        found = taxes(data, "", cur, "-", "total_tax_amounts")
    elif data.get("total_taxes"):
        found = taxes(data, "", cur, "total_taxes", "-")
    else:
        percent = decimal_or_none(data.get("tax_percent"))
        if percent is None or tax.is_zero():
            return []
        digits = f"{percent.normalize():f}"
        rate = f"tax_percent:{digits if '.' in digits else digits + '.0'}"
        found = (TaxAmount(rate=rate, amount=tax, percentage=percent),)
    merged: dict[tuple[str, bool], TaxAmount] = {}
    for t in found:
        key = (t.rate, t.inclusive)
        prior = merged.get(key)
        merged[key] = (
            t
            if prior is None
            else TaxAmount(
                rate=t.rate,
                amount=prior.amount + t.amount,
                percentage=t.percentage,
                inclusive=t.inclusive,
                jurisdiction=t.jurisdiction,
            )
        )
    return list(merged.values())


def _allocate(units: int, weights: list[int]) -> list[int]:
    """`Money.allocate` on integer minor units (same largest-remainder rule, 10x faster)."""
    total = sum(weights)
    sign = -1 if units < 0 else 1
    units = abs(units)
    floors = [units * w // total for w in weights]
    leftover = units - sum(floors)
    if leftover:
        order = sorted(range(len(weights)), key=lambda i: (-(units * weights[i] % total), i))
        for i in order[:leftover]:
            floors[i] += 1
    return [sign * f for f in floors]


def _spread(
    data: Mapping[str, Any], cur: str, tax: Money, lines: list[InvoiceLine]
) -> list[InvoiceLine]:
    """`lines` (none taxed) with the invoice-level taxes spread over them, if there are any."""
    spread = _invoice_level_taxes(data, cur, tax)
    if not spread or any(line.amount.currency != cur for line in lines):
        return lines
    weights = [max(0, line.amount.minor - line.discount.minor) for line in lines]
    if not any(weights):
        weights = [1] * len(lines)
    added: list[list[TaxAmount]] = [[] for _ in lines]
    for t in spread:
        shares = _allocate(t.amount.minor, weights)
        for taxes_of_line, share in zip(added, shares, strict=True):
            taxes_of_line.append(
                TaxAmount(
                    rate=t.rate,
                    amount=money(share, cur),
                    percentage=t.percentage,
                    inclusive=t.inclusive,
                    jurisdiction=t.jurisdiction,
                )
            )
    return [
        replace(line, taxes=(*line.taxes, *taxes_of_line))
        for line, taxes_of_line in zip(lines, added, strict=True)
    ]


def _spread_discount(discount: int, cur: str, lines: list[InvoiceLine]) -> list[InvoiceLine]:
    """2017-08-15: one `discount` (a coupon) on the whole invoice, spread over the lines.

    That shape states the discount only as the difference between subtotal plus tax and
    total; its lines carry none. Spread proportionally to the line amounts (largest
    remainder, no minor unit lost), so the lines sum to the total as in the current
    shape. Lines that already carry discounts, or a difference that is not a discount,
    are left alone (a total that does not add up then fails validation, naming it).
    """
    if discount <= 0 or any(line.discount.minor for line in lines):
        return lines
    weights = [max(0, line.amount.minor) for line in lines]
    if sum(weights) < discount:
        return lines
    shares = _allocate(discount, weights)
    return [
        replace(line, discount=money(share, cur)) for line, share in zip(lines, shares, strict=True)
    ]


def invoice(data: Mapping[str, Any], *, record: str) -> tuple[Invoice | None, tuple[Problem, ...]]:
    ident = data["id"]
    cur = currency(data)
    status = _STATUSES.get(text(data, "status"))
    if status is None:
        raise Bad("status", f"unknown invoice status {data.get('status')!r}")
    customer = ref_id(data.get("customer"))
    if not customer:
        raise Bad("customer", "customer is missing")
    created = timestamp(data, "created", "created")
    total = amount(data, "total", "total", cur)
    subtotal = amount(data, "subtotal", "subtotal", cur)
    amount_paid = amount(data, "amount_paid", "amount_paid", cur)
    tax = _invoice_tax(data, cur)

    lines: list[InvoiceLine] = []
    taxed = False  # whether any line carries its own taxes
    for i, line in enumerate(line_list(data, "lines")):
        line_id = line.get("id")
        where = f"lines[{line_id if type(line_id) is str else i}]"
        line_cur = currency(line, "currency") if "currency" in line else cur
        discounts = line.get("discount_amounts") or []
        if type(discounts) is not list:
            raise Bad(f"{where}.discount_amounts", f"{where}.discount_amounts must be a list")
        discount = 0
        for j, d in enumerate(discounts):
            if type(d) is not dict and not isinstance(d, Mapping):
                raise Bad(f"{where}.discount_amounts[{j}]", "a discount amount must be an object")
            discount += required_int(d, "amount", f"{where}.discount_amounts[{j}].amount")
        period = mapping(line.get("period"))
        # Keyword order is evaluation order: the first unreadable field is the one reported.
        value = InvoiceLine(
            id=line_id if type(line_id) is str else f"line-{i}",
            description=text(line, "description"),
            quantity=_quantity(line),
            amount=amount(line, "amount", f"{where}.amount", line_cur),
            discount=money(discount, line_cur),
            taxes=taxes(line, where, line_cur),
            product=product_of(line),
            tax_code=_tax_code(line),
            unit_amount=_unit_amount(line, line_cur),
            period_start=optional_ts(period, "start", f"{where}.period.start"),
            period_end=optional_ts(period, "end", f"{where}.period.end"),
        )
        taxed = taxed or bool(value.taxes)
        lines.append(value)

    if lines and mapping(data.get("discount")) is not None:
        lines = _spread_discount(subtotal.minor + tax.minor - total.minor, cur, lines)
    if lines and not taxed:
        lines = _spread(data, cur, tax, lines)

    transitions = mapping(data.get("status_transitions"))
    address = mapping(data.get("customer_address"))
    tax_ids = data.get("customer_tax_ids")
    first_tax_id = mapping(tax_ids[0]) if type(tax_ids) is list and tax_ids else None
    result = Invoice(
        id=ident,
        number=text(data, "number"),
        customer=customer,
        customer_name=text(data, "customer_name") or text(data, "customer_email") or customer,
        currency=cur,
        status=status,
        created=created,
        lines=tuple(lines),
        subtotal=subtotal,
        tax=tax,
        total=total,
        amount_paid=amount_paid,
        finalized_at=optional_ts(transitions, "finalized_at", "status_transitions.finalized_at"),
        paid_at=optional_ts(transitions, "paid_at", "status_transitions.paid_at"),
        voided_at=optional_ts(transitions, "voided_at", "status_transitions.voided_at"),
        due_date=optional_day(data, "due_date", "due_date"),
        customer_country=text(address, "country"),
        customer_tax_id=text(first_tax_id, "value"),
        customer_region=text(address, "state"),
        tax_exempt=text(data, "customer_tax_exempt"),
    )
    problems = validate_invoice(result, record=record)
    return (None if problems else result), problems


def _tax_code(line: Mapping[str, Any]) -> str:
    """Stripe Tax's product tax code (`txcd_…`) on the line's price or product, if any."""
    for holder in (mapping(line.get("price")), mapping(line.get("pricing"))):
        product = mapping(holder.get("product")) if holder is not None else None
        code = text(product, "tax_code") if product is not None else ""
        code = code or (text(holder, "tax_code") if holder is not None else "")
        if code:
            return code
    return text(line, "tax_code")
