"""Posting rules for money movements: a payment, a refund and a payout.

Pure: the record, the mapping and a context in; a `RulePlan` out. A payment or refund
waits (a `Requirement`) until the record it settles has posted.

A payment whose invoice is not known when it posts (the current Stripe API links a
charge to its invoice through an `invoice_payment` that may come later) is a customer
prepayment: facet `prepayment`, credited to `accounts.unapplied`. When the link arrives
the same payment plans one more facet, `apply`: the prepayment moves to the invoice's
receivable, linked to the invoice. Each facet posts once, so the application happens
exactly once whatever order or how often the records come.

A payment settled in another currency than the customer paid in (Stripe's balance
transaction in EUR for a USD charge) takes its cash and fee legs in the settlement
currency. With a functional currency the receivable leg is converted from the paid
amount at the rate the invoice was booked at (mapping/fx.py), and the difference is the
realized exchange gain or loss. Without one, `accounts.conversion` carries the exchange
(the settled amount in, the paid amount out), so each currency balances on its own.
"""

from __future__ import annotations

from billbridge.domain import Money, Payment, Payout, Posting, Problem, Refund

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


def _waits_for_invoice(ctx: Context, invoice: str) -> Requirement:
    return Requirement(
        record=related(ctx, "invoice", invoice),
        facet="issue",
        reason=f"waiting for invoice {invoice} to be posted",
    )


def _settled_legs(
    account: str,
    paid: Money,
    settled: Money | None,
    mapping: Mapping,
    ctx: Context,
    why: str,
) -> list[Posting] | Problem:
    """The leg that moves `paid` on `account`, stated in the settlement currency if any.

    `paid` is signed as the leg goes (a credit is negative); `settled` is unsigned.
    """
    if settled is None:
        return [Posting(account=account, amount=paid)]
    same = settled if paid.amount > 0 else -settled
    if mapping.currency is not None:
        # converted from `paid` at the leg's rate (mapping/fx.py), not at the gateway's
        return [Posting(account=account, amount=same, original=paid)]
    conversion = mapping.accounts.conversion
    if conversion is None:
        return missing_account(ctx, mapping, "accounts.conversion", why)
    return [
        Posting(account=account, amount=paid),
        Posting(account=conversion, amount=-paid),
        Posting(account=conversion, amount=same),
    ]


def plan_payment(pay: Payment, mapping: Mapping, ctx: Context) -> RulePlan:
    posted = ctx.posted(ctx.record)
    if pay.invoice and "prepayment" not in posted:
        number = ctx.invoice_number(pay.invoice) or pay.invoice
        return _payment(
            pay, mapping, ctx, credit=mapping.accounts.receivable, facet="payment",
            narration=f"Payment for {number}", link=pay.invoice,
            requires=(_waits_for_invoice(ctx, pay.invoice),),
        )  # fmt: skip
    unapplied = mapping.accounts.unapplied
    if unapplied is None:
        return RulePlan(
            problems=(
                missing_account(
                    ctx, mapping, "accounts.unapplied", f"charge {pay.id} pays no invoice"
                ),
            )
        )
    # An unapplied payment posted before prepayments had a facet of their own kept "payment".
    facet = "payment" if not pay.invoice and "payment" in posted else "prepayment"
    plan = _payment(
        pay, mapping, ctx, credit=unapplied, facet=facet,
        narration=f"Payment {pay.id}, no invoice yet", link=pay.intent or pay.id, requires=(),
    )  # fmt: skip
    if not pay.invoice or plan.problems:
        return plan
    number = ctx.invoice_number(pay.invoice) or pay.invoice
    found = ctx.invoice(pay.invoice)
    paid_on = day_of(pay.created, mapping)
    issued = day_of(found.finalized_at or found.created, mapping) if found else paid_on
    applied = entry(
        ctx,
        "apply",
        day=max(paid_on, issued),
        narration=f"Prepayment {pay.id} applied to {number}",
        postings=[
            Posting(account=unapplied, amount=pay.gross),
            Posting(account=mapping.accounts.receivable, amount=-pay.gross),
        ],
        payee="",
        link=pay.invoice,
        mapping=mapping,
    )
    return RulePlan(
        entries=plan.entries + _kept(applied),
        requires=(_waits_for_invoice(ctx, pay.invoice),),
    )


def _payment(
    pay: Payment,
    mapping: Mapping,
    ctx: Context,
    *,
    credit: str,
    facet: str,
    narration: str,
    link: str,
    requires: tuple[Requirement, ...],
) -> RulePlan:
    legs = _settled_legs(
        credit, -pay.gross, pay.settled, mapping, ctx,
        f"charge {pay.id} was paid in {pay.gross.currency} and settled in "
        f"{pay.settled.currency if pay.settled else ''}, and the books have no functional "
        "currency",
    )  # fmt: skip
    if isinstance(legs, Problem):
        return RulePlan(problems=(legs,))
    method = f"{pay.method}, " if pay.method else ""
    settled = (
        f", settled {pay.settled}" + (f" at {pay.exchange_rate:f}" if pay.exchange_rate else "")
        if pay.settled is not None
        else ""
    )
    planned = entry(
        ctx,
        facet,
        day=day_of(pay.created, mapping),
        narration=f"{narration} ({method}fee {pay.fee}{settled})",
        postings=[
            Posting(account=mapping.accounts.clearing, amount=pay.net),
            Posting(account=mapping.accounts.fees, amount=pay.fee),
            *legs,
        ],
        payee="",
        link=link,
        mapping=mapping,
    )
    return RulePlan(entries=_kept(planned), requires=requires)


def plan_refund(ref: Refund, mapping: Mapping, ctx: Context) -> RulePlan:
    number = ctx.invoice_number(ref.invoice) or ref.invoice if ref.invoice else ref.payment
    legs = _settled_legs(
        mapping.accounts.refunds, ref.amount, ref.settled, mapping, ctx,
        f"refund {ref.id} pays back {ref.amount.currency} from a balance in "
        f"{ref.settled.currency if ref.settled else ''}, and the books have no functional "
        "currency",
    )  # fmt: skip
    if isinstance(legs, Problem):
        return RulePlan(problems=(legs,))
    paid_back = ref.settled or ref.amount
    planned = entry(
        ctx,
        "refund",
        day=day_of(ref.created, mapping),
        narration=f"Refund for {number}" + (f" ({ref.reason})" if ref.reason else ""),
        postings=[*legs, Posting(account=mapping.accounts.clearing, amount=-paid_back)],
        payee="",
        link=ref.invoice,
        mapping=mapping,
    )
    charge = related(ctx, ctx.payment_object, ref.payment)
    requires = (
        Requirement(
            record=charge,
            facet="prepayment" if "prepayment" in ctx.posted(charge) else "payment",
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
