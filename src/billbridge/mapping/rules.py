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

from billbridge.domain import (
    CreditNote,
    Customer,
    Deal,
    Deleted,
    Invoice,
    Payment,
    Payout,
    Problem,
    Refund,
    Severity,
)

from .deferral import split_deferred
from .entities import facts_of, route
from .fx import convert_entry
from .model import Mapping
from .rule_base import Canonical, Context, Planned, Requirement, RulePlan
from .rules_documents import plan_credit_note, plan_invoice
from .rules_payments import plan_payment, plan_payout, plan_refund

__all__ = ["Canonical", "Context", "Planned", "Requirement", "RulePlan", "plan_entries"]


def plan_entries(value: Canonical, mapping: Mapping, ctx: Context) -> RulePlan:
    """Every entry `value` should have in the ledger under `mapping`.

    The record is first routed to its entity (mapping/entities.py), planned with that
    entity's accounts, then converted to the entity's functional currency (mapping/fx.py),
    and deferred revenue is split from what is earned (mapping/deferral.py).
    Warnings (a doubtful VAT id) ride along with the entries; errors replace them.
    """
    if isinstance(value, Customer | Deal | Deleted):
        return RulePlan()  # customers, deals and deletions post nothing
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
        return plan_invoice(value, mapping, ctx)
    if isinstance(value, Payment):
        return plan_payment(value, mapping, ctx)
    if isinstance(value, Refund):
        return plan_refund(value, mapping, ctx)
    if isinstance(value, CreditNote):
        return plan_credit_note(value, mapping, ctx)
    if isinstance(value, Payout):
        return plan_payout(value, mapping, ctx)
    return RulePlan()  # customers post nothing
