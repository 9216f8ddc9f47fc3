"""Reconcile: compare what the source says now, what billbridge posted, and what the books hold.

Why three views and a pure comparison: each system can drift on its own (Stripe voids an
invoice after it synced, a person retypes an amount in the ledger, someone pastes an
entry twice), and only a record-by-record comparison of all three says which one moved
and so who owns the fix. The views are gathered at the edges (`reconcile_collect`); this
module only compares values, so every discrepancy kind is tested without any I/O.

Extension point: `CHECKS` holds every check as a plain function `(views) -> findings`.
Checks owned by other parts (invoice number gaps and duplicates, issue 5) register with
`register_check` and their findings flow through the same output, `--fix` (use fix
"queue" unless the fix is certain), the stored findings, alerts and reports; e.g.

    @register_check
    def invoice_numbers(views: Views) -> Iterator[Discrepancy]:
        numbers = {i: inv["number"] for i, inv in views.source.invoices.items()}
        ...  # yield Discrepancy(kind="invoice_number_gap", fix="queue", ...)

A kind not in `KINDS` sorts after the built-in ones.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

from billbridge.connectors.base import LedgerLeg, LedgerPosting
from billbridge.domain import minor_units

__all__ = [
    "CHECKS",
    "KINDS",
    "Check",
    "Discrepancy",
    "Expected",
    "Fix",
    "LedgerView",
    "PayoutCheck",
    "PostedView",
    "SourceView",
    "Views",
    "compare",
    "register_check",
    "reversal_key",
    "reversed_of",
]

Kind = Literal[
    "missing_in_target",
    "orphan_in_target",
    "status_mismatch",
    "amount_mismatch",
    "currency_mismatch",
    "duplicate_posting",
    "payout_mismatch",
]
KINDS: Final[tuple[str, ...]] = (
    "missing_in_target",
    "orphan_in_target",
    "status_mismatch",
    "amount_mismatch",
    "currency_mismatch",
    "duplicate_posting",
    "payout_mismatch",
)
# post: run the record through the pipeline; reverse: post a reversal entry; queue: a person
Fix = Literal["post", "reverse", "queue"]
_REVERSAL: Final = "reversal-"


def reversal_key(idempotency_key: str, n: int) -> str:
    """The key of the n-th reversal of a duplicated posting (`flow|record|reversal-facet-n`)."""
    flow, record, facet = _split(idempotency_key)
    return f"{flow}|{record}|{_REVERSAL}{facet}-{n}"


def _split(idempotency_key: str) -> tuple[str, str, str]:
    flow, record, facet = [*idempotency_key.split("|", 2), "", ""][:3]
    return flow, record, facet


def reversed_of(idempotency_key: str) -> str | None:
    """The key a reversal key reverses, or None when it is not a reversal."""
    flow, record, facet = _split(idempotency_key)
    if not facet.startswith(_REVERSAL):
        return None
    base = facet.removeprefix(_REVERSAL).rsplit("-", 1)[0]
    return f"{flow}|{record}|{base}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expected:
    """An entry the source's current record gives under the current mapping."""

    idempotency_key: str
    record_key: str
    facet: str
    link: str
    legs: tuple[LedgerLeg, ...]
    entry_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutCheck:
    """A payout's amount beside the sum of the balance transactions it pays out (minor units)."""

    record_key: str
    currency: str
    amount: int
    transactions: int
    transactions_sum: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceView:
    """What the source says now: expected entries, records present, invoice states."""

    connection: str
    expected: Mapping[str, Expected]
    records: frozenset[str]
    unplannable: frozenset[str] = frozenset()  # records that fail or wait: the queue's job
    invoices: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # id -> status
    payouts: tuple[PayoutCheck, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PostedView:
    """What billbridge recorded as posted, and which records already wait in the queue."""

    postings: Mapping[str, tuple[str, str, datetime]]  # idem -> (entry hash, ref, posted at)
    queued: frozenset[str]  # record keys with an open queue row


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerView:
    target: str
    postings: tuple[LedgerPosting, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Views:
    flow: str
    source: SourceView
    posted: PostedView
    ledger: LedgerView


@dataclass(frozen=True, slots=True, kw_only=True)
class Discrepancy:
    """One difference between systems: what, where in each system, both values, who fixes it.

    `difference` is in minor units of `currency` (source minus ledger) for amount kinds.
    `queued` is True when the record already has an open row in the exception queue.
    `since` is when reconcile first saw it (from the store), else when the entry posted.
    """

    kind: str
    flow: str
    record_key: str
    idempotency_key: str
    source_ref: str
    target_ref: str
    source_value: str
    target_value: str
    owner: str
    fix: Fix
    detail: str
    hint: str
    difference: int | None = None
    currency: str = ""
    since: datetime | None = None
    queued: bool = False

    def as_json(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "flow": self.flow,
            "record_key": self.record_key,
            "idempotency_key": self.idempotency_key,
            "source_ref": self.source_ref,
            "target_ref": self.target_ref,
            "source_value": self.source_value,
            "target_value": self.target_value,
            "owner": self.owner,
            "fix": self.fix,
            "detail": self.detail,
            "hint": self.hint,
            "queued": self.queued,
        }
        if self.difference is not None:
            data["difference_minor"] = self.difference
            data["currency"] = self.currency
        if self.since is not None:
            data["since"] = self.since.isoformat()
        return data


Check = Callable[[Views], Iterable[Discrepancy]]
CHECKS: list[Check] = []


def register_check(check: Check) -> Check:
    """Add a check to every reconcile (usable as a decorator)."""
    if check not in CHECKS:
        CHECKS.append(check)
    return check


def compare(views: Views, *, checks: Sequence[Check] | None = None) -> list[Discrepancy]:
    """Every discrepancy the checks find, in a stable order (kind, record)."""
    found: list[Discrepancy] = []
    for check in CHECKS if checks is None else checks:
        found.extend(check(views))
    queued = views.posted.queued
    found = [d if d.queued or d.record_key not in queued else _with_queued(d) for d in found]
    order = {kind: i for i, kind in enumerate(KINDS)}
    found.sort(key=lambda d: (order.get(d.kind, len(order)), d.record_key, d.idempotency_key))
    return found


def _with_queued(d: Discrepancy) -> Discrepancy:
    return replace(d, queued=True)


# ---------------------------------------------------------------------- helpers
def _legs_text(legs: Iterable[LedgerLeg]) -> str:
    return ", ".join(f"{leg.account} {leg.amount:f} {leg.currency}" for leg in legs)


def _to_minor(amount: Decimal, currency: str) -> int:
    try:
        return int(amount.scaleb(minor_units(currency)))
    except ValueError:
        return int(amount)


def _format_minor(minor: int, currency: str) -> str:
    try:
        return f"{Decimal(minor).scaleb(-minor_units(currency)):f} {currency}"
    except ValueError:
        return f"{minor} {currency} (minor units)"


def _by_key(views: Views) -> dict[str, list[LedgerPosting]]:
    grouped: dict[str, list[LedgerPosting]] = defaultdict(list)
    for posting in views.ledger.postings:
        grouped[posting.idempotency_key].append(posting)
    return grouped


def _source_ref(views: Views, record_key: str) -> str:
    return record_key if record_key in views.source.records else ""


# ---------------------------------------------------------------------- the checks
@register_check
def missing_and_status(views: Views) -> Iterator[Discrepancy]:
    """Entries the source gives that the books lack; a missing void or payment is a status."""
    in_ledger = _by_key(views)
    source, posted = views.source, views.posted
    for key, exp in sorted(source.expected.items()):
        if key in in_ledger:
            continue
        known = posted.postings.get(key)
        invoice = source.invoices.get(exp.link, {})
        kind: str = "missing_in_target"
        what = f"the {exp.facet!r} entry"
        if exp.facet in {"void", "credit-void"}:
            kind, what = "status_mismatch", "voided in the source, still receivable in the books"
        elif exp.facet == "payment" and invoice.get("status") == "paid":
            kind, what = "status_mismatch", "paid in the source, still open in the books"
        if known is None:
            fix: Fix = "post"
            detail = f"{what}: the source gives {key} but the books do not hold it"
            hint = "reconcile --fix posts it through the normal pipeline"
            owner = source.connection
        else:
            fix = "queue"
            detail = (
                f"{what}: billbridge posted {key} at {known[1]} but the books no longer hold it"
            )
            hint = f"restore the entry in {known[1]} from a backup; billbridge will not post twice"
            owner = views.ledger.target
        yield Discrepancy(
            kind=kind,
            flow=views.flow,
            record_key=exp.record_key,
            idempotency_key=key,
            source_ref=exp.record_key,
            target_ref=known[1] if known else "",
            source_value=_legs_text(exp.legs),
            target_value="(none)",
            owner=owner,
            fix=fix,
            detail=detail,
            hint=hint,
            since=known[2] if known else None,
        )
    yield from _paid_without_payment(views, in_ledger)


def _paid_without_payment(
    views: Views, in_ledger: Mapping[str, list[LedgerPosting]]
) -> Iterator[Discrepancy]:
    """An invoice paid in the source whose receivable stays open: no payment exists at all."""
    payments_expected = {e.link for e in views.source.expected.values() if e.facet == "payment"}
    payments_booked = {
        link
        for key, group in in_ledger.items()
        if _split(key)[2] == "payment"
        for link in group[0].links
    }
    prefix = f"{views.source.connection}:invoice:"
    for invoice_id, invoice in sorted(views.source.invoices.items()):
        if invoice.get("status") != "paid" or not invoice.get("amount_paid"):
            continue
        if invoice_id in payments_expected or invoice_id in payments_booked:
            continue
        record = f"{prefix}{invoice_id}"
        issue = f"{views.flow}|{record}|issue"
        if issue not in in_ledger:
            continue  # not in the books at all: missing_in_target says so
        currency = str(invoice.get("currency", "")).upper()
        yield Discrepancy(
            kind="status_mismatch",
            flow=views.flow,
            record_key=record,
            idempotency_key=issue,
            source_ref=record,
            target_ref=in_ledger[issue][0].ref,
            source_value=f"paid ({_format_minor(int(invoice['amount_paid']), currency)})",
            target_value="open receivable, no payment",
            owner=views.source.connection,
            fix="queue",
            detail=(
                f"invoice {invoice_id} is paid in the source but no payment for it is in the "
                "source's records or in the books"
            ),
            hint="export the charge that paid it (then sync), or post the payment by hand",
        )


@register_check
def orphans_and_duplicates(views: Views) -> Iterator[Discrepancy]:
    """Entries in the books the source does not give, and entries posted more than once."""
    in_ledger = _by_key(views)
    reversals: Counter[str] = Counter()
    for key, group in in_ledger.items():
        base = reversed_of(key)
        if base is not None:
            reversals[base] += len(group)
    source, posted = views.source, views.posted
    for key, group in sorted(in_ledger.items()):
        if reversed_of(key) is not None:
            if key not in posted.postings:
                yield _orphan(views, key, group, "a reversal entry billbridge did not post")
            continue
        count = len(group) - reversals[key]
        record = group[0].record_key or _split(key)[1]
        if count > 1:
            yield Discrepancy(
                kind="duplicate_posting",
                flow=views.flow,
                record_key=record,
                idempotency_key=key,
                source_ref=_source_ref(views, record),
                target_ref=", ".join(p.ref for p in group),
                source_value="posted once",
                target_value=f"{count} times",
                owner=views.ledger.target,
                fix="reverse",
                detail=f"{key} is in the books {count} times",
                hint="reconcile --fix posts a reversal entry for each extra copy",
            )
        if key in source.expected or record in source.unplannable:
            continue
        if key not in posted.postings:
            yield _orphan(views, key, group, "billbridge never posted it")
        elif record not in source.records:
            yield _orphan(views, key, group, "the source no longer has the record")
        else:
            yield _orphan(views, key, group, "the source's current record gives no such entry")


def _orphan(views: Views, key: str, group: list[LedgerPosting], why: str) -> Discrepancy:
    record = group[0].record_key or _split(key)[1]
    known = views.posted.postings.get(key)
    return Discrepancy(
        kind="orphan_in_target",
        flow=views.flow,
        record_key=record,
        idempotency_key=key,
        source_ref=_source_ref(views, record),
        target_ref=", ".join(p.ref for p in group),
        source_value="(none)",
        target_value=_legs_text(group[0].legs),
        owner=views.ledger.target,
        fix="queue",
        detail=f"{key} is in the books but {why}",
        hint="check who posted it; reverse it by hand if it is wrong, then dismiss this row",
        since=known[2] if known else None,
    )


@register_check
def amounts_and_currencies(views: Views) -> Iterator[Discrepancy]:
    """Entries in both places whose legs differ: by currency, else by amount."""
    in_ledger = _by_key(views)
    for key, exp in sorted(views.source.expected.items()):
        group = in_ledger.get(key)
        if not group:
            continue
        got = group[0].legs
        known = views.posted.postings.get(key)
        # The store's hash says which side moved: equal to the source's → the books were edited.
        books_edited = known is not None and known[0] == exp.entry_hash
        owner = views.ledger.target if books_edited else views.source.connection
        base = {
            "flow": views.flow,
            "record_key": exp.record_key,
            "idempotency_key": key,
            "source_ref": exp.record_key,
            "target_ref": group[0].ref,
            "owner": owner,
            "fix": "queue",
            "since": known[2] if known else None,
        }
        hint = (
            f"restore the entry at {group[0].ref} as billbridge posted it"
            if books_edited
            else "post a correcting entry (billbridge never edits a posted one), then dismiss"
        )
        want_cur = {leg.currency for leg in exp.legs}
        got_cur = {leg.currency for leg in got}
        if want_cur != got_cur:
            yield Discrepancy(
                kind="currency_mismatch",
                source_value=", ".join(sorted(want_cur)),
                target_value=", ".join(sorted(got_cur)),
                detail=f"{key}: the source is in {', '.join(sorted(want_cur))}, the books in "
                f"{', '.join(sorted(got_cur))}",
                hint=hint,
                **base,  # type: ignore[arg-type]
            )
            continue
        diffs = _leg_differences(exp.legs, got)
        if not diffs:
            continue
        (account, currency), diff = max(diffs.items(), key=lambda kv: abs(kv[1]))
        want = sum((leg.amount for leg in exp.legs if leg.amount > 0), Decimal(0))
        have = sum((leg.amount for leg in got if leg.amount > 0), Decimal(0))
        yield Discrepancy(
            kind="amount_mismatch",
            source_value=f"{want:f} {currency}",
            target_value=f"{have:f} {currency}",
            difference=diff,
            currency=currency,
            detail=(
                f"{key}: {account} differs by {_format_minor(diff, currency)} "
                + (
                    f"(source {want:f}, books {have:f} {currency})"
                    if want != have
                    else "(same total, posted to other accounts: was the mapping changed?)"
                )
            ),
            hint=hint,
            **base,  # type: ignore[arg-type]
        )


def _leg_differences(
    want: Iterable[LedgerLeg], got: Iterable[LedgerLeg]
) -> dict[tuple[str, str], int]:
    """(account, currency) → source minus books, in minor units; zero differences left out."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for leg in want:
        totals[leg.account, leg.currency] += _to_minor(leg.amount, leg.currency)
    for leg in got:
        totals[leg.account, leg.currency] -= _to_minor(leg.amount, leg.currency)
    return {k: v for k, v in totals.items() if v}


@register_check
def payouts(views: Views) -> Iterator[Discrepancy]:
    """A payout whose amount is not the sum of the balance transactions it pays out."""
    for check in views.source.payouts:
        if check.amount == check.transactions_sum:
            continue
        diff = check.amount - check.transactions_sum
        yield Discrepancy(
            kind="payout_mismatch",
            flow=views.flow,
            record_key=check.record_key,
            idempotency_key=f"{views.flow}|{check.record_key}|payout",
            source_ref=check.record_key,
            target_ref="",
            source_value=f"payout {_format_minor(check.amount, check.currency)}",
            target_value=(
                f"{check.transactions} balance transactions sum to "
                f"{_format_minor(check.transactions_sum, check.currency)}"
            ),
            owner=views.source.connection,
            fix="queue",
            difference=diff,
            currency=check.currency,
            detail=(
                f"payout {check.record_key} is {_format_minor(check.amount, check.currency)} "
                f"but its balance transactions sum to "
                f"{_format_minor(check.transactions_sum, check.currency)}"
            ),
            hint="compare the payout's itemized report in Stripe; a transaction may be missing "
            "from the export",
        )
