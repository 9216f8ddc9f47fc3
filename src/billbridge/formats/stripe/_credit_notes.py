"""Stripe credit notes → `CreditNote`, with the products of the invoice lines they credit.

A credit note states its lines' amounts, discounts and taxes; the product (for the
revenue account) is the credited invoice line's, read from the invoice, which the note
waits for. The refunded part comes from `refunds` (current) or `refund` (older).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billbridge.domain import CreditNote, CreditNoteLine, Money, Problem

from ._documents import product_of
from ._read import (
    Bad,
    Wait,
    amount,
    currency,
    line_list,
    mapping,
    money,
    optional_ts,
    ref_id,
    required_int,
    taxes,
    text,
    timestamp,
)
from ._types import Resolve

__all__ = ["credit_note"]


def _invoice_products(inv: Mapping[str, Any]) -> dict[str, str]:
    lines = mapping(inv.get("lines"))
    items = lines.get("data") if lines is not None else inv.get("lines")
    if type(items) is not list:
        return {}
    return {
        line["id"]: product_of(line)
        for line in items
        if isinstance(line, Mapping) and type(line.get("id")) is str
    }


def _refund_amount(data: Mapping[str, Any], cur: str, resolve: Resolve) -> Money:
    refunds = data.get("refunds")
    if refunds is not None:
        if type(refunds) is not list:
            raise Bad("refunds", f"refunds must be a list, got {refunds!r}")
        total = 0
        for i, r in enumerate(refunds):
            if not isinstance(r, Mapping):
                raise Bad(f"refunds[{i}]", f"refunds[{i}] must be an object")
            total += required_int(r, "amount_refunded", f"refunds[{i}].amount_refunded")
        return money(total, cur)
    refund = data.get("refund")
    if refund is None:
        return Money.zero(cur)
    expanded = mapping(refund)
    if expanded is None:
        refund_id = ref_id(refund)
        if not refund_id:
            raise Bad("refund", f"refund must be a refund id or object, got {refund!r}")
        expanded = resolve("refund", refund_id)
        if expanded is None:
            raise Wait("refund", refund_id, f"waiting for refund {refund_id}")
    return amount(expanded, "amount", "refund.amount", cur)


def credit_note(
    data: Mapping[str, Any], *, record: str, resolve: Resolve
) -> tuple[CreditNote | None, tuple[Problem, ...]]:
    ident = data["id"]
    cur = currency(data)
    invoice_id = ref_id(data.get("invoice"))
    if not invoice_id:
        raise Bad("invoice", "invoice is missing (a credit note always credits an invoice)")
    customer = ref_id(data.get("customer"))
    if not customer:
        raise Bad("customer", "customer is missing")
    status = text(data, "status")
    if status not in ("issued", "void"):
        raise Bad("status", f"unknown credit note status {data.get('status')!r}")
    created = timestamp(data, "created", "created")
    total = amount(data, "total", "total", cur)
    parts: list[dict[str, Any]] = []
    expected = 0
    for i, line in enumerate(line_list(data, "lines")):
        line_id = line.get("id")
        where = f"lines[{line_id if type(line_id) is str else i}]"
        gross = required_int(line, "amount", f"{where}.amount")
        discount = line.get("discount_amount") or 0
        if type(discount) is not int:
            raise Bad(f"{where}.discount_amount", f"{where}.discount_amount must be an integer")
        line_taxes = taxes(line, where, cur)
        expected += gross - discount + sum(t.amount.minor for t in line_taxes if not t.inclusive)
        parts.append(
            {
                "id": line_id if type(line_id) is str else f"line-{i}",
                "description": text(line, "description"),
                "amount": money(gross - discount, cur),
                "taxes": line_taxes,
                "invoice_line": ref_id(line.get("invoice_line_item")),
            }
        )
    refund_amount = _refund_amount(data, cur, resolve)
    problems: list[Problem] = []
    if expected != total.minor:
        problems.append(
            Problem(
                record=record,
                field="total",
                message=f"credit note {ident}: lines sum to {money(expected, cur)} "
                f"but total is {total}",
                hint="the source credit note is inconsistent; correct it in Stripe and replay",
            )
        )
    if refund_amount > total:
        problems.append(
            Problem(
                record=record,
                field="refund_amount",
                message=f"credit note {ident}: refunds ({refund_amount}) "
                f"exceed its total ({total})",
                hint="check the credit note's refunds in Stripe",
            )
        )
    if problems:
        return None, tuple(problems)
    inv = resolve("invoice", invoice_id)
    if inv is None:
        raise Wait("invoice", invoice_id, f"waiting for invoice {invoice_id}")
    products = _invoice_products(inv)
    value = CreditNote(
        id=ident,
        number=text(data, "number"),
        invoice=invoice_id,
        customer=customer,
        currency=cur,
        created=created,
        lines=tuple(
            CreditNoteLine(**p, product=products.get(p["invoice_line"], "")) for p in parts
        ),
        total=total,
        refund_amount=refund_amount,
        status=status,
        voided_at=optional_ts(data, "voided_at", "voided_at") if status == "void" else None,
        reason=text(data, "reason"),
    )
    return value, ()
