"""The comparison: a registry of checks, and the built-in ones (one per kind family)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from billbridge.connectors.base import LedgerLeg, LedgerPosting
from billbridge.domain import InvoiceStatus, format_minor, minor_units

from ._model import KINDS, Discrepancy, Fix, Views, reversed_of, split_key

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
        invoice = source.invoices.get(exp.link)
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
    # a payment, or a prepayment applied to the invoice once its link arrived
    settles = {"payment", "apply"}
    payments_expected = {e.link for e in views.source.expected.values() if e.facet in settles}
    payments_booked = {
        link
        for key, group in in_ledger.items()
        if split_key(key)[2] in settles
        for link in group[0].links
    }
    prefix = f"{views.source.connection}:invoice:"
    for invoice_id, invoice in sorted(views.source.invoices.items()):
        if invoice.status is not PAID or not invoice.amount_paid:
            continue
        if invoice_id in payments_expected or invoice_id in payments_booked:
            continue
        record = f"{prefix}{invoice_id}"
        issue = f"{views.flow}|{record}|issue"
        if issue not in in_ledger:
            continue  # not in the books at all: missing_in_target says so
        yield Discrepancy(
            kind="status_mismatch",
            flow=views.flow,
            record_key=record,
            idempotency_key=issue,
            source_ref=record,
            target_ref=in_ledger[issue][0].ref,
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
        if key in source.expected or record in source.unplannable:
            continue
        if key not in posted.postings:
            yield _orphan(views, key, group, "billbridge never posted it")
        elif record not in source.records:
            yield _orphan(views, key, group, "the source no longer has the record")
        else:
            yield _orphan(views, key, group, "the source's current record gives no such entry")


def _orphan(views: Views, key: str, group: list[LedgerPosting], why: str) -> Discrepancy:
    record = group[0].record_key or split_key(key)[1]
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
