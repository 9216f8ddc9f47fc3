"""Posting rules: one canonical record in, the journal entries it should have in the ledger out.

Why facets: a record has several accounting effects over its life (an invoice is issued,
later perhaps voided). Each effect is a named facet with its own idempotency key, so a
new version of a record posts only the effects it adds, and an effect is never posted
twice whatever order versions arrive in. Corrections are new entries (a void is a
reversal), never edits.

Rules are pure: the record, the mapping and a small context in; entries, problems and
ordering requirements out. They never raise for bad data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from billbridge.domain import (
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    JournalEntry,
    Money,
    Payment,
    Payout,
    Posting,
    Problem,
    Refund,
)

from .model import Mapping

__all__ = ["Context", "Planned", "Requirement", "RulePlan", "plan_entries"]

Canonical = Customer | Invoice | CreditNote | Payment | Refund | Payout


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a rule needs beyond the record: where it came from and how to name related ones."""

    flow: str
    connection: str  # the source connection, to build related record keys
    record: str  # this record's key, connection:object:id
    version: str
    invoice_number: Callable[[str], str] = lambda _id: ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned:
    facet: str
    entry: JournalEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """This record may post only after `record`'s `facet` is posted (e.g. its invoice)."""

    record: str
    facet: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RulePlan:
    entries: tuple[Planned, ...] = ()
    problems: tuple[Problem, ...] = ()
    requires: tuple[Requirement, ...] = ()


def plan_entries(value: Canonical, mapping: Mapping, ctx: Context) -> RulePlan:
    """Every entry `value` should have in the ledger under `mapping`."""
    if isinstance(value, Invoice):
        return _invoice(value, mapping, ctx)
    if isinstance(value, Payment):
        return _payment(value, mapping, ctx)
    if isinstance(value, Refund):
        return _refund(value, mapping, ctx)
    if isinstance(value, CreditNote):
        return _credit_note(value, mapping, ctx)
    if isinstance(value, Payout):
        return _payout(value, mapping, ctx)
    return RulePlan()  # customers post nothing


def _day(moment: datetime, mapping: Mapping) -> date:
    return moment.astimezone(mapping.zone).date()


def _entry(
    ctx: Context,
    facet: str,
    *,
    day: date,
    narration: str,
    postings: list[Posting],
    payee: str,
    link: str,
    mapping: Mapping,
) -> Planned:
    kept = tuple(p for p in postings if p.amount.amount)
    return Planned(
        facet=facet,
        entry=JournalEntry(
            date=day,
            narration=narration,
            postings=kept,
            key=f"{ctx.flow}|{ctx.record}|{facet}",
            source=ctx.record,
            version=ctx.version,
            entity=mapping.entity,
            payee=payee,
            links=(link,) if link else (),
        ),
    )


def _missing_account(ctx: Context, mapping: Mapping, field: str, why: str) -> Problem:
    return Problem(
        record=ctx.record,
        field=field,
        message=f"{why}, and {mapping.path.name} has no `{field}`",
        hint=f"add `{field}: <Account>` to {mapping.path} and replay this record",
    )


def _revenue_account(product: str, ctx: Context, mapping: Mapping, problems: list[Problem]) -> str:
    account = mapping.products.get(product) if product else None
    if account is None:
        account = mapping.accounts.revenue
    if account is None:
        problems.append(
            _missing_account(
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


def _tax_account(rate: str, ctx: Context, mapping: Mapping, problems: list[Problem]) -> str:
    account = mapping.tax_rates.get(rate)
    if account is None:
        problems.append(
            Problem(
                record=ctx.record,
                field="tax_rates",
                message=f"tax rate {rate!r} has no account in {mapping.path}",
                hint=f"add `{rate}: Liabilities:…` under `tax_rates:` in {mapping.path}, "
                f"then `billbridge replay {ctx.record}`",
            )
        )
        return ""
    return account


def _invoice(inv: Invoice, mapping: Mapping, ctx: Context) -> RulePlan:
    if inv.status is InvoiceStatus.DRAFT:
        return RulePlan()  # a draft has no accounting effect until it is finalized
    problems: list[Problem] = []
    postings: list[Posting] = [Posting(account=mapping.accounts.receivable, amount=inv.total)]
    for line in inv.lines:
        revenue = _revenue_account(line.product, ctx, mapping, problems)
        inclusive = sum((t.amount.amount for t in line.taxes if t.inclusive), Decimal(0))
        gross = line.amount.amount - inclusive
        if mapping.discounts == "separate" and line.discount.amount:
            if mapping.accounts.discounts is None:
                problems.append(
                    _missing_account(
                        ctx, mapping, "accounts.discounts", "discounts are posted separately"
                    )
                )
            else:
                postings.append(Posting(account=mapping.accounts.discounts, amount=line.discount))
        else:
            gross -= line.discount.amount
        postings.append(
            Posting(
                account=revenue,
                amount=Money(amount=-gross, currency=inv.currency),
                memo=line.description,
            )
        )
        postings.extend(
            Posting(account=_tax_account(t.rate, ctx, mapping, problems), amount=-t.amount)
            for t in line.taxes
        )
    if problems:
        return RulePlan(problems=_unique(problems))
    name = inv.number or inv.id
    issued = inv.finalized_at or inv.created
    link = inv.id
    planned = [
        _entry(
            ctx,
            "issue",
            day=_day(issued, mapping),
            narration=f"Invoice {name} — {inv.customer_name}",
            postings=postings,
            payee=inv.customer_name,
            link=link,
            mapping=mapping,
        )
    ]
    if inv.status is InvoiceStatus.VOID:
        planned.append(
            _entry(
                ctx,
                "void",
                day=_day(inv.voided_at or issued, mapping),
                narration=f"Void of invoice {name} — {inv.customer_name}",
                postings=[
                    Posting(account=p.account, amount=-p.amount, memo=p.memo) for p in postings
                ],
                payee=inv.customer_name,
                link=link,
                mapping=mapping,
            )
        )
    return RulePlan(entries=tuple(p for p in planned if p.entry.postings))


def _unique(problems: list[Problem]) -> tuple[Problem, ...]:
    return tuple(dict.fromkeys(problems))


def _related(ctx: Context, obj: str, ident: str) -> str:
    return f"{ctx.connection}:{obj}:{ident}"


def _payment(pay: Payment, mapping: Mapping, ctx: Context) -> RulePlan:
    requires: tuple[Requirement, ...] = ()
    if pay.invoice:
        credit = mapping.accounts.receivable
        number = ctx.invoice_number(pay.invoice) or pay.invoice
        narration = f"Payment for {number}"
        requires = (
            Requirement(
                record=_related(ctx, "invoice", pay.invoice),
                facet="issue",
                reason=f"waiting for invoice {pay.invoice} to be posted",
            ),
        )
    elif mapping.accounts.unapplied is not None:
        credit = mapping.accounts.unapplied
        narration = f"Payment {pay.id} (no invoice)"
    else:
        return RulePlan(
            problems=(
                _missing_account(
                    ctx, mapping, "accounts.unapplied", f"charge {pay.id} pays no invoice"
                ),
            )
        )
    method = f"{pay.method}, " if pay.method else ""
    planned = _entry(
        ctx,
        "payment",
        day=_day(pay.created, mapping),
        narration=f"{narration} ({method}fee {pay.fee})",
        postings=[
            Posting(account=mapping.accounts.clearing, amount=pay.net),
            Posting(account=mapping.accounts.fees, amount=pay.fee),
            Posting(account=credit, amount=-pay.gross),
        ],
        payee="",
        link=pay.invoice,
        mapping=mapping,
    )
    return RulePlan(entries=(planned,), requires=requires)


def _refund(ref: Refund, mapping: Mapping, ctx: Context) -> RulePlan:
    number = ctx.invoice_number(ref.invoice) or ref.invoice if ref.invoice else ref.payment
    planned = _entry(
        ctx,
        "refund",
        day=_day(ref.created, mapping),
        narration=f"Refund for {number}" + (f" ({ref.reason})" if ref.reason else ""),
        postings=[
            Posting(account=mapping.accounts.refunds, amount=ref.amount),
            Posting(account=mapping.accounts.clearing, amount=-ref.amount),
        ],
        payee="",
        link=ref.invoice,
        mapping=mapping,
    )
    requires = (
        Requirement(
            record=_related(ctx, "charge", ref.payment),
            facet="payment",
            reason=f"waiting for payment {ref.payment} to be posted",
        ),
    )
    return RulePlan(entries=(planned,), requires=requires)


def _credit_note(cn: CreditNote, mapping: Mapping, ctx: Context) -> RulePlan:
    """Reverse revenue and tax of the credited lines.

    The refunded part credits the refunds account: the refund record itself debits
    that account when it posts, so the pair nets to zero there whichever comes first,
    and revenue, tax and clearing each move exactly once.
    """
    problems: list[Problem] = []
    postings: list[Posting] = []
    for line in cn.lines:
        revenue = _revenue_account(line.product, ctx, mapping, problems)
        postings.append(Posting(account=revenue, amount=line.amount, memo=line.description))
        postings.extend(
            Posting(account=_tax_account(t.rate, ctx, mapping, problems), amount=t.amount)
            for t in line.taxes
        )
    if problems:
        return RulePlan(problems=_unique(problems))
    postings.append(
        Posting(account=mapping.accounts.receivable, amount=-(cn.total - cn.refund_amount))
    )
    postings.append(Posting(account=mapping.accounts.refunds, amount=-cn.refund_amount))
    number = ctx.invoice_number(cn.invoice) or cn.invoice
    name = cn.number or cn.id
    planned = [
        _entry(
            ctx,
            "credit",
            day=_day(cn.created, mapping),
            narration=f"Credit note {name} for {number}",
            postings=postings,
            payee="",
            link=cn.invoice,
            mapping=mapping,
        )
    ]
    if cn.status == "void":
        planned.append(
            _entry(
                ctx,
                "credit-void",
                day=_day(cn.voided_at or cn.created, mapping),
                narration=f"Void of credit note {name} for {number}",
                postings=[Posting(account=p.account, amount=-p.amount) for p in postings],
                payee="",
                link=cn.invoice,
                mapping=mapping,
            )
        )
    requires = (
        Requirement(
            record=_related(ctx, "invoice", cn.invoice),
            facet="issue",
            reason=f"waiting for invoice {cn.invoice} to be posted",
        ),
    )
    return RulePlan(entries=tuple(p for p in planned if p.entry.postings), requires=requires)


def _payout(po: Payout, mapping: Mapping, ctx: Context) -> RulePlan:
    if po.status != "paid":
        return RulePlan()  # posted when the money arrives
    planned = _entry(
        ctx,
        "payout",
        day=po.arrival_date,
        narration=f"Payout {po.id} to bank",
        postings=[
            Posting(account=mapping.accounts.bank, amount=po.amount),
            Posting(account=mapping.accounts.clearing, amount=-po.amount),
        ],
        payee="",
        link="",
        mapping=mapping,
    )
    return RulePlan(entries=(planned,))
