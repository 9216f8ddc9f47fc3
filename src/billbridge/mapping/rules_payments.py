"""Posting rules for money movements: a payment, a refund and a payout.

Pure: the record, the mapping and a context in; a `RulePlan` out. A payment or refund
waits (a `Requirement`) until the record it settles has posted.
"""

from __future__ import annotations

from billbridge.domain import Payment, Payout, Posting, Refund

from .model import Mapping
from .rule_base import (
    Context,
    Planned,
    Requirement,
    RulePlan,
    day_of,
    entry,
    missing_account,
    related,
)

__all__ = ["plan_payment", "plan_payout", "plan_refund"]


def _kept(planned: Planned | None) -> tuple[Planned, ...]:
    return () if planned is None else (planned,)


def plan_payment(pay: Payment, mapping: Mapping, ctx: Context) -> RulePlan:
    requires: tuple[Requirement, ...] = ()
    if pay.invoice:
        credit = mapping.accounts.receivable
        number = ctx.invoice_number(pay.invoice) or pay.invoice
        narration = f"Payment for {number}"
        requires = (
            Requirement(
                record=related(ctx, "invoice", pay.invoice),
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
                missing_account(
                    ctx, mapping, "accounts.unapplied", f"charge {pay.id} pays no invoice"
                ),
            )
        )
    method = f"{pay.method}, " if pay.method else ""
    planned = entry(
        ctx,
        "payment",
        day=day_of(pay.created, mapping),
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
    return RulePlan(entries=_kept(planned), requires=requires)


def plan_refund(ref: Refund, mapping: Mapping, ctx: Context) -> RulePlan:
    number = ctx.invoice_number(ref.invoice) or ref.invoice if ref.invoice else ref.payment
    planned = entry(
        ctx,
        "refund",
        day=day_of(ref.created, mapping),
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
            record=related(ctx, "charge", ref.payment),
            facet="payment",
            reason=f"waiting for payment {ref.payment} to be posted",
        ),
    )
    return RulePlan(entries=_kept(planned), requires=requires)


def plan_payout(po: Payout, mapping: Mapping, ctx: Context) -> RulePlan:
    if po.status != "paid":
        return RulePlan()  # posted when the money arrives
    planned = entry(
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
    return RulePlan(entries=_kept(planned))
