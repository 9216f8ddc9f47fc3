"""Post in the entity's functional currency, keeping the transaction amounts.

Which rate a leg uses is an accounting choice, made once here:
- an invoice (and its void) at the rate of its issue day, so the void reverses it exactly;
- a credit note at its invoice's issue-day rate, so the receivable it reduces nets out;
- a payment's receivable leg at its invoice's issue-day rate and its cash and fee legs at
  the payment day's rate; the difference is the realized exchange gain or loss, posted to
  `fx.gain` (a credit) or `fx.loss` (a debit);
- refunds and payouts at their own day's rate.
A rate the table lacks fails the record naming the date and the pair.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from billbridge.domain import (
    CreditNote,
    Invoice,
    JournalEntry,
    Money,
    Payment,
    Posting,
    Problem,
    convert_postings,
)

from .model import Mapping

__all__ = ["convert_entry"]


def _stated(entry: JournalEntry) -> JournalEntry:
    """`entry` with every leg at its stated amount (all in the functional currency)."""
    postings = tuple(
        Posting(account=p.account, amount=p.original or p.amount, memo=p.memo, meta=p.meta)
        for p in entry.postings
    )
    return dataclasses.replace(entry, postings=postings)


def _issue_day(inv: Invoice, mapping: Mapping) -> date:
    moment: datetime = inv.finalized_at or inv.created
    return moment.astimezone(mapping.zone).date()


def _leg_days(
    value: object,
    entry: JournalEntry,
    mapping: Mapping,
    invoice: Callable[[str], Invoice | None],
) -> list[date]:
    days = [entry.date] * len(entry.postings)
    if isinstance(value, Invoice):
        return [_issue_day(value, mapping)] * len(days)
    linked = value.invoice if isinstance(value, CreditNote | Payment) else ""
    found = invoice(linked) if linked else None
    if found is None:
        return days
    issued = _issue_day(found, mapping)
    if isinstance(value, CreditNote):
        return [issued] * len(days)
    # a payment's other legs at its own day (also in the entry applying a prepayment,
    # dated later: the prepayment leaves the unapplied account at the rate it came in)
    paid = value.created.astimezone(mapping.zone).date() if isinstance(value, Payment) else None
    receivable = mapping.accounts.receivable
    return [
        issued if p.account == receivable else (paid or d)
        for p, d in zip(entry.postings, days, strict=True)
    ]


def convert_entry(
    value: object,
    entry: JournalEntry,
    mapping: Mapping,
    *,
    record: str,
    invoice: Callable[[str], Invoice | None],
) -> JournalEntry | Problem:
    """`entry` in `mapping.currency` (the entity's), or the Problem of a missing rate."""
    functional = mapping.currency
    if functional is None or mapping.fx is None:
        return entry
    if all((p.original or p.amount).currency == functional for p in entry.postings):
        return _stated(entry) if any(p.original for p in entry.postings) else entry
    table = mapping.rate_table
    rates: list[Decimal] = []
    used: dict[str, str] = {}
    for posting, day in zip(entry.postings, _leg_days(value, entry, mapping, invoice), strict=True):
        cur = (posting.original or posting.amount).currency
        rate = table.rate(day, cur, functional)
        if rate is None:
            pair = f"{cur}/{functional}"
            return Problem(
                record=record,
                field="fx.rates",
                message=f"no exchange rate for {pair} on {day.isoformat()} in "
                f"{mapping.path.name} (entity {mapping.entity} keeps its books in {functional})",
                hint=f'add `- {{date: {day.isoformat()}, pair: {pair}, rate: "…"}}` under '
                f"`fx.rates:` in {mapping.path} (or a row to its rates file), then "
                f"`billbridge replay {record}`",
            )
        rates.append(rate)
        if cur != functional:
            used.setdefault(f"{day.isoformat()}", f"{cur}/{functional} {rate:f}")
    postings, residue = convert_postings(entry.postings, rates, functional)
    if residue.amount:
        gain = residue.amount > 0  # debits exceed credits: the difference is a credit, a gain
        account = mapping.fx.gain if gain else mapping.fx.loss
        postings.append(
            Posting(
                account=account,
                amount=Money.rounded(-residue.amount, functional),
                memo="realized exchange gain" if gain else "realized exchange loss",
            )
        )
    meta = (*entry.meta, ("fx-rate", "; ".join(f"{d} {r}" for d, r in sorted(used.items()))))
    return dataclasses.replace(entry, postings=tuple(postings), meta=meta)
