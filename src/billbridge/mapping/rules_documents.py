"""Posting rules for documents: an invoice (issued, voided) and a credit note.

Revenue by product, tax by jurisdiction (mapping/tax.py), discounts net or separate,
reverse charge. Pure: the record, the mapping and a context in; a `RulePlan` out.
"""

from __future__ import annotations

from decimal import Decimal

from billbridge.domain import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Money,
    Posting,
    Problem,
    TaxAmount,
)

from .deferral import service_of, tag
from .model import Mapping
from .rule_base import (
    Context,
    Requirement,
    RulePlan,
    day_of,
    entry,
    missing_account,
    related,
    unique,
)
from .tax import Jurisdiction, find_tax_rule, is_reverse_charge, vat_warnings

__all__ = ["plan_credit_note", "plan_invoice"]

_NOWHERE = Jurisdiction()


def _revenue_account(product: str, ctx: Context, mapping: Mapping, problems: list[Problem]) -> str:
    account = mapping.products.get(product) if product else None
    if account is None:
        account = mapping.accounts.revenue
    if account is None:
        problems.append(
            missing_account(
                ctx,
                mapping,
                "accounts.revenue",
                f"product {product!r} has no rule under `products`"
                if product
                else "a line has no product",
            )
        )
        return ""
    return account


def _tax_posting(
    tax: TaxAmount,
    sign: int,
    ctx: Context,
    mapping: Mapping,
    problems: list[Problem],
    *,
    tax_code: str = "",
    where: Jurisdiction = _NOWHERE,
) -> Posting:
    """The posting of one tax amount: account and report code by jurisdiction (mapping/tax.py)."""
    amount = tax.amount if sign > 0 else -tax.amount
    rule = find_tax_rule(mapping, rate=tax.rate, tax_code=tax_code, where=where)
    if rule is not None:
        meta = (("tax-report-code", rule.report_code),) if rule.report_code else ()
        return Posting(account=rule.account, amount=amount, meta=meta)
    return Posting(account=_tax_account(tax.rate, ctx, mapping, problems), amount=amount)


def _tax_account(rate: str, ctx: Context, mapping: Mapping, problems: list[Problem]) -> str:
    account = mapping.tax_rates.get(rate)
    if account is None:
        problems.append(
            Problem(
                record=ctx.record,
                field="tax_rates",
                message=f"tax rate {rate!r} has no account in {mapping.path}",
                hint=f"add `{rate}: Liabilities:…` under `tax_rates:` (or a `tax_rules:` entry) "
                f"in {mapping.path}, then `billbridge replay {ctx.record}`",
            )
        )
        return ""
    return account


def plan_invoice(inv: Invoice, mapping: Mapping, ctx: Context) -> RulePlan:
    if inv.status is InvoiceStatus.DRAFT:
        return RulePlan()  # a draft has no accounting effect until it is finalized
    problems: list[Problem] = []
    warnings = vat_warnings(inv, record=ctx.record)
    entity = next((e for e in mapping.entities if e.name == mapping.entity), None)
    reverse = is_reverse_charge(
        inv, home_country=entity.country if entity else "", vat_valid=not warnings
    )
    where = Jurisdiction(country=inv.customer_country, region=inv.customer_region)
    if reverse and inv.tax.amount:
        problems.append(
            Problem(
                record=ctx.record,
                field="tax",
                message=f"invoice {inv.number or inv.id} is a reverse-charge sale but charges "
                f"{inv.tax} tax; a reverse-charge invoice carries no output tax",
                hint="correct the invoice in the source system (customer tax status "
                "'reverse', no tax rate), then replay it",
            )
        )
    postings: list[Posting] = [Posting(account=mapping.accounts.receivable, amount=inv.total)]
    for line in inv.lines:
        revenue = _revenue_account(line.product, ctx, mapping, problems)
        service = service_of(line, mapping)
        inclusive = sum((t.amount.amount for t in line.taxes if t.inclusive), Decimal(0))
        gross = line.amount.amount - inclusive
        if mapping.discounts == "separate" and line.discount.amount:
            if mapping.accounts.discounts is None:
                problems.append(
                    missing_account(
                        ctx, mapping, "accounts.discounts", "discounts are posted separately"
                    )
                )
            else:
                postings.append(
                    Posting(
                        account=mapping.accounts.discounts,
                        amount=line.discount,
                        meta=tag(f"{line.id}/discount", service),
                    )
                )
        else:
            gross -= line.discount.amount
        postings.append(
            Posting(
                account=revenue,
                amount=Money(amount=-gross, currency=inv.currency),
                memo=line.description,
                meta=(
                    *(_reverse_code(mapping, line.tax_code, where) if reverse else ()),
                    *tag(line.id, service),
                ),
            )
        )
        if not reverse:
            postings.extend(
                _tax_posting(t, -1, ctx, mapping, problems, tax_code=line.tax_code, where=where)
                for t in line.taxes
            )
    if problems:
        return RulePlan(problems=unique(problems))
    name = inv.number or inv.id
    meta: list[tuple[str, str]] = []
    if reverse:
        meta.append(("reverse-charge", "TRUE"))
    if warnings:
        meta.append(("warning", "; ".join(w.message for w in warnings)))
    issued = inv.finalized_at or inv.created
    link = inv.id
    # A zero invoice (a trial, a 100 % coupon) posts nothing, or a memo entry by choice.
    memo = mapping.zero_invoices == "memo" and not any(p.amount.amount for p in postings)
    planned = [
        entry(
            ctx,
            "issue",
            day=day_of(issued, mapping),
            narration=f"Invoice {name} — {inv.customer_name}"
            + (" (reverse charge)" if reverse else ""),
            postings=postings,
            payee=inv.customer_name,
            link=link,
            mapping=mapping,
            meta=tuple(meta),
            memo=memo,
        )
    ]
    if inv.status is InvoiceStatus.VOID:
        planned.append(
            entry(
                ctx,
                "void",
                day=day_of(inv.voided_at or issued, mapping),
                narration=f"Void of invoice {name} — {inv.customer_name}",
                postings=[
                    Posting(account=p.account, amount=-p.amount, memo=p.memo, meta=p.meta)
                    for p in postings
                ],
                payee=inv.customer_name,
                link=link,
                mapping=mapping,
                meta=tuple(meta),
                memo=memo,
            )
        )
    return RulePlan(entries=tuple(p for p in planned if p is not None), problems=warnings)


def _reverse_code(
    mapping: Mapping, tax_code: str, where: Jurisdiction
) -> tuple[tuple[str, str], ...]:
    """The report code for a reverse-charge sale's net amount, from the matching tax rule."""
    rule = find_tax_rule(mapping, rate="", tax_code=tax_code, where=where)
    if rule is None or not rule.reverse_charge_code:
        return ()
    return (("tax-report-code", rule.reverse_charge_code),)


def plan_credit_note(cn: CreditNote, mapping: Mapping, ctx: Context) -> RulePlan:
    """Reverse revenue and tax of the credited lines.

    The refunded part credits the refunds account: the refund record itself debits
    that account when it posts, so the pair nets to zero there whichever comes first,
    and revenue, tax and clearing each move exactly once.
    """
    problems: list[Problem] = []
    postings: list[Posting] = []
    related_needed = mapping.tax_rules or mapping.deferral
    inv = ctx.invoice(cn.invoice) if cn.invoice and related_needed else None
    where = (
        Jurisdiction(country=inv.customer_country, region=inv.customer_region)
        if inv is not None
        else Jurisdiction()
    )
    for line in cn.lines:
        revenue = _revenue_account(line.product, ctx, mapping, problems)
        credited = _line_of(inv, line.invoice_line) if mapping.deferral else None
        service = service_of(credited, mapping) if credited is not None else None
        postings.append(
            Posting(
                account=revenue,
                amount=line.amount,
                memo=line.description,
                meta=tag(line.id, service),
            )
        )
        postings.extend(_tax_posting(t, 1, ctx, mapping, problems, where=where) for t in line.taxes)
    if problems:
        return RulePlan(problems=unique(problems))
    postings.append(
        Posting(account=mapping.accounts.receivable, amount=-(cn.total - cn.refund_amount))
    )
    postings.append(Posting(account=mapping.accounts.refunds, amount=-cn.refund_amount))
    number = ctx.invoice_number(cn.invoice) or cn.invoice
    name = cn.number or cn.id
    planned = [
        entry(
            ctx,
            "credit",
            day=day_of(cn.created, mapping),
            narration=f"Credit note {name} for {number}",
            postings=postings,
            payee="",
            link=cn.invoice,
            mapping=mapping,
        )
    ]
    if cn.status == "void":
        planned.append(
            entry(
                ctx,
                "credit-void",
                day=day_of(cn.voided_at or cn.created, mapping),
                narration=f"Void of credit note {name} for {number}",
                postings=[
                    Posting(account=p.account, amount=-p.amount, meta=p.meta) for p in postings
                ],
                payee="",
                link=cn.invoice,
                mapping=mapping,
            )
        )
    requires = (
        Requirement(
            record=related(ctx, "invoice", cn.invoice),
            facet="issue",
            reason=f"waiting for invoice {cn.invoice} to be posted",
        ),
    )
    return RulePlan(entries=tuple(p for p in planned if p is not None), requires=requires)


def _line_of(inv: Invoice | None, line_id: str) -> InvoiceLine | None:
    if inv is None or not line_id:
        return None
    return next((line for line in inv.lines if line.id == line_id), None)
