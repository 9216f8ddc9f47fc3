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
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from billbridge.domain import (
    CreditNote,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    JournalEntry,
    Money,
    Payment,
    Payout,
    Posting,
    Problem,
    Refund,
    Severity,
    TaxAmount,
)

from .deferral import service_of, split_deferred, tag
from .entities import facts_of, route
from .fx import convert_entry
from .model import Mapping
from .tax import Jurisdiction, find_tax_rule, is_reverse_charge, vat_warnings

__all__ = ["Context", "Planned", "Requirement", "RulePlan", "plan_entries"]

_NOWHERE = Jurisdiction()

Canonical = Customer | Invoice | CreditNote | Payment | Refund | Payout


# The four small types below are NamedTuples, not frozen dataclasses: the rules build
# several per record, and a frozen dataclass's `__init__` (one `object.__setattr__` per
# field) costs about twice a tuple's. They are immutable all the same; build them with
# keywords and change them with `_replace`.


def _no_number(_id: str) -> str:
    return ""


def _no_invoice(_id: str) -> Invoice | None:
    return None


class Context(NamedTuple):
    """What a rule needs beyond the record: where it came from and how to name related ones."""

    flow: str
    connection: str  # the source connection, to build related record keys
    record: str  # this record's key, connection:object:id
    version: str
    invoice_number: Callable[[str], str] = _no_number
    invoice: Callable[[str], Invoice | None] = _no_invoice  # a related invoice, normalized


class Planned(NamedTuple):
    facet: str
    entry: JournalEntry


class Requirement(NamedTuple):
    """This record may post only after `record`'s `facet` is posted (e.g. its invoice)."""

    record: str
    facet: str
    reason: str


class RulePlan(NamedTuple):
    entries: tuple[Planned, ...] = ()
    problems: tuple[Problem, ...] = ()
    requires: tuple[Requirement, ...] = ()


def plan_entries(value: Canonical, mapping: Mapping, ctx: Context) -> RulePlan:
    """Every entry `value` should have in the ledger under `mapping`.

    The record is first routed to its entity (mapping/entities.py), planned with that
    entity's accounts, then converted to the entity's functional currency (mapping/fx.py),
    and deferred revenue is split from what is earned (mapping/deferral.py).
    Warnings (a doubtful VAT id) ride along with the entries; errors replace them.
    """
    if isinstance(value, Customer):
        return RulePlan()  # customers post nothing
    routed = route(
        value,
        mapping,
        record=ctx.record,
        facts=lambda: facts_of(value, connection=ctx.connection, invoice=ctx.invoice),
    )
    if isinstance(routed, Problem):
        return RulePlan(problems=(routed,))
    view, _entity = routed
    plan = _plan(value, view, ctx)
    if any(p.severity is Severity.ERROR for p in plan.problems):
        return plan
    converted: list[Planned] = []
    for item in plan.entries:
        entry = convert_entry(value, item.entry, view, record=ctx.record, invoice=ctx.invoice)
        if isinstance(entry, Problem):
            return RulePlan(problems=(entry,), requires=plan.requires)
        converted.append(Planned(facet=item.facet, entry=split_deferred(entry, view)))
    return plan._replace(entries=tuple(converted))


def _plan(value: Canonical, mapping: Mapping, ctx: Context) -> RulePlan:
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
    meta: tuple[tuple[str, str], ...] = (),
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
            meta=meta,
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


def _invoice(inv: Invoice, mapping: Mapping, ctx: Context) -> RulePlan:
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
                    _missing_account(
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
        return RulePlan(problems=_unique(problems))
    name = inv.number or inv.id
    meta: list[tuple[str, str]] = []
    if reverse:
        meta.append(("reverse-charge", "TRUE"))
    if warnings:
        meta.append(("warning", "; ".join(w.message for w in warnings)))
    issued = inv.finalized_at or inv.created
    link = inv.id
    planned = [
        _entry(
            ctx,
            "issue",
            day=_day(issued, mapping),
            narration=f"Invoice {name} — {inv.customer_name}"
            + (" (reverse charge)" if reverse else ""),
            postings=postings,
            payee=inv.customer_name,
            link=link,
            mapping=mapping,
            meta=tuple(meta),
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
                    Posting(account=p.account, amount=-p.amount, memo=p.memo, meta=p.meta)
                    for p in postings
                ],
                payee=inv.customer_name,
                link=link,
                mapping=mapping,
                meta=tuple(meta),
            )
        )
    return RulePlan(entries=tuple(p for p in planned if p.entry.postings), problems=warnings)


def _reverse_code(
    mapping: Mapping, tax_code: str, where: Jurisdiction
) -> tuple[tuple[str, str], ...]:
    """The report code for a reverse-charge sale's net amount, from the matching tax rule."""
    rule = find_tax_rule(mapping, rate="", tax_code=tax_code, where=where)
    if rule is None or not rule.reverse_charge_code:
        return ()
    return (("tax-report-code", rule.reverse_charge_code),)


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
    related = mapping.tax_rules or mapping.deferral
    inv = ctx.invoice(cn.invoice) if cn.invoice and related else None
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
            record=_related(ctx, "invoice", cn.invoice),
            facet="issue",
            reason=f"waiting for invoice {cn.invoice} to be posted",
        ),
    )
    return RulePlan(entries=tuple(p for p in planned if p.entry.postings), requires=requires)


def _line_of(inv: Invoice | None, line_id: str) -> InvoiceLine | None:
    if inv is None or not line_id:
        return None
    return next((line for line in inv.lines if line.id == line_id), None)


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
