"""The comparison: a registry of checks, and the built-in ones (one per kind family)."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSet, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from billbridge.connectors.base import LedgerLeg, LedgerPosting
from billbridge.domain import InvoiceStatus, format_minor, minor_units

from ._model import KINDS, Discrepancy, Expected, Fix, Views, reversed_of, split_key
from ._scratch import DiskGroups, DiskMap, DiskSet, ordered

PAID = InvoiceStatus.PAID
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
    # An informational finding (fix "none") is never queued, whatever its record's row says.
    found = [
        _with_queued(d) if d.fix != "none" and not d.queued and d.record_key in queued else d
        for d in found
    ]
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


def _source_ref(views: Views, record_key: str) -> str:
    return record_key if record_key in views.source.records else ""


Group = tuple[LedgerPosting, ...]
Posted = tuple[str, str, datetime]
_SETTLES: Final = frozenset({"payment", "apply"})  # a payment, or a prepayment applied


def joined(
    views: Views, groups: Mapping[str, Group]
) -> Iterator[tuple[str, Expected | None, Group | None, Posted | None]]:
    """Each idempotency key the source expects or the books hold, in key order, with what
    the source expects, what the books hold and what the store says was posted.

    A merge of three streams sorted by key, so a check reads each view once and holds
    one key at a time (keys only the store knows are left out: nothing to compare).
    """
    streams = (
        ((key, 0, value) for key, value in ordered(views.source.expected)),
        ((key, 1, value) for key, value in ordered(groups)),
        ((key, 2, value) for key, value in ordered(views.posted.postings)),
    )
    current: str | None = None
    found: list[Any] = [None, None, None]
    for key, which, value in heapq.merge(*streams, key=lambda row: (row[0], row[1])):
        if key != current:
            if current is not None and (found[0] is not None or found[1] is not None):
                yield current, found[0], found[1], found[2]
            current, found = key, [None, None, None]
        found[which] = value
    if current is not None and (found[0] is not None or found[1] is not None):
        yield current, found[0], found[1], found[2]


def reversal_counts(groups: Mapping[str, Group]) -> Counter[str]:
    """How many reversal entries the books hold per reversed key."""
    counts: Counter[str] = Counter()
    found = (
        groups.containing("|reversal-")
        if isinstance(groups, DiskGroups)
        else ((key, len(group)) for key, group in groups.items())
    )
    for key, n in found:
        base = reversed_of(key)
        if base is not None:
            counts[base] += n
    return counts


def _set_beside(mapping: Mapping[str, Any]) -> MutableSet[str]:
    """An empty set kept where `mapping` is kept: on disk beside a table, else in memory."""
    return DiskSet(mapping.scratch) if isinstance(mapping, DiskMap) else set()


# ---------------------------------------------------------------------- the checks
@register_check
def entries(views: Views) -> Iterator[Discrepancy]:
    """Every entry compared across the three views, in one pass over each.

    Missing entries (a missing void or payment is a status), duplicates and orphans,
    amounts and currencies, then invoices paid in the source with no payment anywhere.
    """
    groups = views.ledger.groups()
    reversals = reversal_counts(groups)
    settled = _set_beside(views.source.expected)  # invoice ids a payment is known for
    for key, exp, group, known in joined(views, groups):
        if exp is not None and exp.facet in _SETTLES:
            settled.add(exp.link)
        if group is not None and split_key(key)[2] in _SETTLES:
            for link in group[0].links:
                settled.add(link)
        if exp is not None and group is None:
            yield _missing(views, key, exp, known)
        if group is not None:
            expected = exp is not None
            yield from _duplicate_or_orphan(views, key, group, known, reversals[key], expected)
        if exp is not None and group:
            yield from _amounts(views, key, exp, group, known)
    yield from _paid_without_payment(views, groups, settled)


def _missing(views: Views, key: str, exp: Expected, known: Posted | None) -> Discrepancy:
    """An entry the source gives that the books lack; a missing void or payment is a status."""
    source = views.source
    invoice = source.invoices.get(exp.link) if exp.facet == "payment" else None
    kind: str = "missing_in_target"
    what = f"the {exp.facet!r} entry"
    if exp.facet in {"void", "credit-void"}:
        kind, what = "status_mismatch", "voided in the source, still receivable in the books"
    elif exp.facet == "payment" and invoice is not None and invoice.status is PAID:
        kind, what = "status_mismatch", "paid in the source, still open in the books"
    if known is None:
        fix: Fix = "post"
        detail = f"{what}: the source gives {key} but the books do not hold it"
        hint = "reconcile --fix posts it through the normal pipeline"
        owner = source.connection
    else:
        fix = "queue"
        detail = f"{what}: billbridge posted {key} at {known[1]} but the books no longer hold it"
        hint = f"restore the entry in {known[1]} from a backup; billbridge will not post twice"
        owner = views.ledger.target
    return Discrepancy(
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


def _paid_without_payment(
    views: Views, groups: Mapping[str, Group], settled: AbstractSet[str]
) -> Iterator[Discrepancy]:
    """An invoice paid in the source whose receivable stays open: no payment exists at all."""
    invoices = views.source.invoices
    unsettled = (
        invoices.ordered_except(settled)
        if isinstance(invoices, DiskMap) and isinstance(settled, DiskSet)
        else ((i, v) for i, v in sorted(invoices.items()) if i not in settled)
    )
    prefix = f"{views.source.connection}:invoice:"
    for invoice_id, invoice in unsettled:
        if invoice.status is not PAID or not invoice.amount_paid:
            continue
        record = f"{prefix}{invoice_id}"
        issue = f"{views.flow}|{record}|issue"
        booked = groups.get(issue)
        if not booked:
            continue  # not in the books at all: missing_in_target says so
        yield Discrepancy(
            kind="status_mismatch",
            flow=views.flow,
            record_key=record,
            idempotency_key=issue,
            source_ref=record,
            target_ref=booked[0].ref,
            source_value=f"paid ({format_minor(invoice.amount_paid.minor, invoice.currency)})",
            target_value="open receivable, no payment",
            owner=views.source.connection,
            fix="queue",
            detail=(
                f"invoice {invoice_id} is paid in the source but no payment for it is in the "
                "source's records or in the books"
            ),
            hint="export the charge that paid it (then sync), or post the payment by hand",
        )


def _duplicate_or_orphan(
    views: Views, key: str, group: Group, known: Posted | None, reversed_n: int, expected: bool
) -> Iterator[Discrepancy]:
    """An entry in the books the source does not give, or posted more than once."""
    if reversed_of(key) is not None:
        if known is None:
            yield _orphan(views, key, group, known, "a reversal entry billbridge did not post")
        return
    source = views.source
    count = len(group) - reversed_n
    record = group[0].record_key or split_key(key)[1]
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
    if expected or record in source.unplannable:
        return
    if known is None:
        yield _orphan(views, key, group, known, "billbridge never posted it")
    elif record not in source.records:
        yield _orphan(views, key, group, known, "the source no longer has the record")
    else:
        yield _orphan(views, key, group, known, "the source's current record gives no such entry")


def _orphan(views: Views, key: str, group: Group, known: Posted | None, why: str) -> Discrepancy:
    record = group[0].record_key or split_key(key)[1]
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


def _amounts(
    views: Views, key: str, exp: Expected, group: Group, known: Posted | None
) -> Iterator[Discrepancy]:
    """An entry in both places whose legs differ: by currency, else by amount."""
    got = group[0].legs
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
        return
    diffs = _leg_differences(exp.legs, got)
    if not diffs:
        return
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
            f"{key}: {account} differs by {format_minor(diff, currency)} "
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
def source_findings(views: Views) -> Iterator[Discrepancy]:
    """What the source's own checks found (its model's `checks`), as discrepancies it owns."""
    for found in views.source.findings:
        fix: Fix = "none" if found.fix == "none" else "queue"
        yield Discrepancy(
            kind=found.kind,
            flow=views.flow,
            record_key=found.record_key,
            idempotency_key=f"{views.flow}|{found.record_key}|{found.facet}",
            source_ref=found.record_key,
            target_ref="",
            source_value=found.source_value,
            target_value=found.target_value,
            owner=views.source.connection,
            fix=fix,
            difference=found.difference,
            currency=found.currency,
            detail=found.detail,
            hint=found.hint,
        )
