"""What every posting rule shares: the rule context, the plan it returns, entry helpers.

Why a module of its own: the rules are split by job (documents: invoices and credit
notes, mapping/rules_documents.py; money movements: payments, refunds and payouts,
mapping/rules_payments.py), and both build entries the same way. `plan_entries` in
mapping/rules.py is the one entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime
from typing import NamedTuple

from billbridge.domain import (
    Canonical,
    Invoice,
    JournalEntry,
    Money,
    Posting,
    Problem,
)

from .model import Mapping

__all__ = [
    "Canonical",
    "Context",
    "Planned",
    "Requirement",
    "RulePlan",
    "day_of",
    "entry",
    "missing_account",
    "related",
    "unique",
]


# The four small types below are NamedTuples, not frozen dataclasses: the rules build
# several per record, and a frozen dataclass's `__init__` (one `object.__setattr__` per
# field) costs about twice a tuple's. They are immutable all the same; build them with
# keywords and change them with `_replace`.


def _no_number(_id: str) -> str:
    return ""


def _no_invoice(_id: str) -> Invoice | None:
    return None


def _nothing_posted(_record: str) -> Collection[str]:
    return ()


class Context(NamedTuple):
    """What a rule needs beyond the record: where it came from and how to name related ones."""

    flow: str
    connection: str  # the source connection, to build related record keys
    record: str  # this record's key, connection:object:id
    version: str
    invoice_number: Callable[[str], str] = _no_number
    invoice: Callable[[str], Invoice | None] = _no_invoice  # a related invoice, normalized
    # the facets already posted for a record key: what a record did earlier in its life
    # (a payment posted before its invoice link existed went to `prepayment`)
    posted: Callable[[str], Collection[str]] = _nothing_posted
    # The object under which the source files payments: a refund waits for
    # `<connection>:<payment_object>:<payment id>` (Stripe files them as charges).
    payment_object: str = "charge"


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


def day_of(moment: datetime, mapping: Mapping) -> date:
    return moment.astimezone(mapping.zone).date()


def entry(
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
    memo: bool = False,
) -> Planned | None:
    """The entry of one facet, its zero legs left out; None when nothing is left.

    Why None and not an error: a document whose every amount is zero (a trial invoice,
    a 100 % coupon) is legitimate and has no accounting effect. `memo=True` keeps it as
    a memo entry instead: every leg at zero, so the ledger shows the document.
    """
    if memo:
        kept = tuple(p if p.amount.amount else _zero(p) for p in postings)
    else:
        kept = tuple(p for p in postings if p.amount.amount)
    if not kept:
        return None
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


def _zero(posting: Posting) -> Posting:
    """`posting` at a plain zero (never -0.00, which a void's negation would give)."""
    zero = Money.zero(posting.amount.currency)
    return Posting(account=posting.account, amount=zero, memo=posting.memo, meta=posting.meta)


def missing_account(ctx: Context, mapping: Mapping, field: str, why: str) -> Problem:
    return Problem(
        record=ctx.record,
        field=field,
        message=f"{why}, and {mapping.path.name} has no `{field}`",
        hint=f"add `{field}: <Account>` to {mapping.path} and replay this record",
    )


def unique(problems: list[Problem]) -> tuple[Problem, ...]:
    return tuple(dict.fromkeys(problems))


def related(ctx: Context, obj: str, ident: str) -> str:
    return f"{ctx.connection}:{obj}:{ident}"
