"""The pure comparison behind reconcile: one case per discrepancy kind, no I/O.

The e2e test builds each kind for real through the CLI; these pin down the rules (which
side owns the fix, what counts as a duplicate after a reversal) on hand-made views.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billbridge.connectors.base import LedgerLeg, LedgerPosting, RawRecord
from billbridge.domain import Invoice, InvoiceStatus, Money
from billbridge.engine.reconcile import (
    Expected,
    LedgerView,
    PostedView,
    SourceView,
    Views,
    compare,
    reversal_key,
)
from billbridge.formats.stripe import payout_findings, payout_sums

FLOW = "f"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
INV = "stripe:invoice:in_1"
ISSUE = f"{FLOW}|{INV}|issue"


def legs(amount: str, currency: str = "EUR") -> tuple[LedgerLeg, ...]:
    value = Decimal(amount)
    return (
        LedgerLeg(account="Assets:Receivable", amount=value, currency=currency),
        LedgerLeg(account="Income:Sales", amount=-value, currency=currency),
    )


def expected(key: str = ISSUE, facet: str = "issue", amount: str = "10.00", **kw: str) -> Expected:
    return Expected(
        idempotency_key=key,
        record_key=key.split("|")[1],
        facet=facet,
        link=kw.get("link", "in_1"),
        legs=legs(amount, kw.get("currency", "EUR")),
        entry_hash=kw.get("hash", "h1"),
    )


def booked(key: str = ISSUE, amount: str = "10.00", currency: str = "EUR") -> LedgerPosting:
    return LedgerPosting(
        idempotency_key=key,
        record_key=key.split("|")[1],
        ref="billbridge.beancount:1",
        date=date(2024, 5, 1),
        links=("in_1",),
        legs=legs(amount, currency),
    )


def views(
    exp: list[Expected],
    ledger: list[LedgerPosting],
    posted: dict[str, str] | None = None,
    *,
    invoices: dict[str, Invoice] | None = None,
    queued: frozenset[str] = frozenset(),
) -> Views:
    return Views(
        flow=FLOW,
        source=SourceView(
            connection="stripe",
            expected={e.idempotency_key: e for e in exp},
            records=frozenset({INV}),
            invoices=invoices or {},
        ),
        posted=PostedView(
            postings={k: (h, "billbridge.beancount:1", T0) for k, h in (posted or {}).items()},
            queued=queued,
        ),
        ledger=LedgerView(target="books", postings=tuple(ledger)),
    )


def kinds(v: Views) -> list[tuple[str, str, str]]:
    return [(d.kind, d.fix, d.owner) for d in compare(v)]


def test_all_three_agree_finds_nothing() -> None:
    assert compare(views([expected()], [booked()], {ISSUE: "h1"})) == []


def test_missing_in_target_never_posted_is_posted_by_the_fix() -> None:
    assert kinds(views([expected()], [])) == [("missing_in_target", "post", "stripe")]


def test_missing_in_target_that_was_posted_goes_to_a_person() -> None:
    found = compare(views([expected()], [], {ISSUE: "h1"}))
    assert [(d.kind, d.fix, d.owner) for d in found] == [("missing_in_target", "queue", "books")]
    assert "restore" in found[0].hint


def test_void_missing_is_a_status_mismatch() -> None:
    void = expected(f"{FLOW}|{INV}|void", "void")
    v = views([expected(), void], [booked()], {ISSUE: "h1"})
    assert kinds(v) == [("status_mismatch", "post", "stripe")]
    assert "voided" in compare(v)[0].detail


def paid_invoice(minor: int = 1000) -> Invoice:
    """A canonical paid invoice (reconcile compares canonical objects, of any source)."""
    amount = Money.from_minor(minor, "EUR")
    return Invoice(
        id="in_1", number="HB-1", customer="c", customer_name="Globex", currency="EUR",
        status=InvoiceStatus.PAID, created=T0, lines=(), subtotal=amount,
        tax=Money.zero("EUR"), total=amount, amount_paid=amount,
    )  # fmt: skip


def test_paid_invoice_with_no_payment_anywhere_is_a_status_mismatch() -> None:
    paid = {"in_1": paid_invoice()}
    v = views([expected()], [booked()], {ISSUE: "h1"}, invoices=paid)
    found = compare(v)
    assert [(d.kind, d.fix) for d in found] == [("status_mismatch", "queue")]
    assert found[0].source_value == "paid (10.00 EUR)"


def test_paid_invoice_whose_payment_is_booked_is_fine() -> None:
    paid = {"in_1": paid_invoice()}
    pay_key = f"{FLOW}|stripe:charge:ch_1|payment"
    pay = expected(pay_key, "payment")
    v = views([expected(), pay], [booked(), booked(pay_key)], {ISSUE: "h1"}, invoices=paid)
    assert compare(v) == []


def test_amount_mismatch_owner_is_the_side_that_moved() -> None:
    edited_books = views([expected(hash="h1")], [booked(amount="10.50")], {ISSUE: "h1"})
    (d,) = compare(edited_books)
    assert (d.kind, d.owner, d.difference, d.currency) == ("amount_mismatch", "books", -50, "EUR")
    changed_source = views([expected(hash="h2")], [booked(amount="10.50")], {ISSUE: "h1"})
    assert kinds(changed_source) == [("amount_mismatch", "queue", "stripe")]


def test_currency_mismatch() -> None:
    v = views([expected(currency="USD")], [booked()], {ISSUE: "h9"})
    (d,) = compare(v)
    assert (d.kind, d.source_value, d.target_value) == ("currency_mismatch", "USD", "EUR")


def test_duplicate_is_reversed_and_a_reversal_settles_it() -> None:
    v = views([expected()], [booked(), booked()], {ISSUE: "h1"})
    assert kinds(v) == [("duplicate_posting", "reverse", "books")]
    rev = reversal_key(ISSUE, 1)
    assert rev == f"{FLOW}|{INV}|reversal-issue-1"
    settled = views(
        [expected()], [booked(), booked(), booked(rev, "-10.00")], {ISSUE: "h1", rev: "r"}
    )
    assert compare(settled) == []


@pytest.mark.parametrize(
    ("posted", "records", "why"),
    [
        ({}, {INV}, "never posted"),
        ({ISSUE: "h1"}, set(), "no longer has"),
        ({ISSUE: "h1"}, {INV}, "gives no such entry"),
    ],
)
def test_orphan_in_target(posted: dict[str, str], records: set[str], why: str) -> None:
    v = views([], [booked()], posted)
    v = Views(
        flow=v.flow,
        source=SourceView(connection="stripe", expected={}, records=frozenset(records)),
        posted=v.posted,
        ledger=v.ledger,
    )
    (d,) = compare(v)
    assert (d.kind, d.fix) == ("orphan_in_target", "queue")
    assert why in d.detail


def test_a_record_already_in_the_queue_is_marked_queued() -> None:
    (d,) = compare(views([expected()], [], queued=frozenset({INV})))
    assert d.queued


def test_payout_sums_sequential_and_named() -> None:
    rows = [
        {"object": "balance_transaction", "type": "charge", "net": 900, "currency": "eur"},
        {"object": "balance_transaction", "type": "refund", "net": -100, "currency": "eur"},
        {"object": "balance_transaction", "type": "charge", "net": 500, "currency": "usd"},
        {"object": "payout", "id": "po_1", "amount": 800, "currency": "eur"},
        {"object": "balance_transaction", "type": "charge", "net": 300, "currency": "eur"},
        {"object": "payout", "id": "po_2", "amount": 400, "currency": "eur"},
    ]
    sequential = list(payout_sums("stripe", rows))
    assert [(amount, summed, count) for _, _, amount, count, summed in sequential] == [
        (800, 800, 2),
        (400, 300, 1),
    ]
    named = [{**r, "payout": "po_2"} if r.get("net") == 500 else r for r in rows]
    assert [(key, summed) for key, _, _, _, summed in payout_sums("stripe", named)] == [
        ("stripe:payout:po_1", 0),
        ("stripe:payout:po_2", 500),
    ]
    raws = [
        RawRecord(object=str(r["object"]), id=str(r.get("id", i)), data=r, raw=b"", position="")
        for i, r in enumerate(rows)
    ]
    views_ = views([], [])
    found = compare(
        Views(
            flow=FLOW,
            source=SourceView(
                connection="stripe",
                expected={},
                records=frozenset(),
                findings=tuple(payout_findings("stripe", raws)),
            ),
            posted=views_.posted,
            ledger=views_.ledger,
        )
    )
    assert [(d.kind, d.difference, d.currency, d.owner, d.fix) for d in found] == [
        ("payout_mismatch", 100, "EUR", "stripe", "queue")
    ]
    assert found[0].idempotency_key == f"{FLOW}|stripe:payout:po_2|payout"


def test_a_registered_check_joins_every_reconcile() -> None:
    from billbridge.engine.reconcile import CHECKS, Discrepancy, register_check

    def numbers(v: Views) -> list[Discrepancy]:
        return [
            Discrepancy(
                kind="invoice_number_gap", flow=v.flow, record_key=INV, idempotency_key="",
                source_ref=INV, target_ref="", source_value="HB-1, HB-3",
                target_value="", owner="stripe", fix="queue", detail="HB-2 is missing",
                hint="find HB-2",
            )
        ]  # fmt: skip

    register_check(numbers)
    try:
        found = compare(views([expected()], [], queued=frozenset()))
        assert [d.kind for d in found] == ["missing_in_target", "invoice_number_gap"]
    finally:
        CHECKS.remove(numbers)


def test_the_html_report_escapes_what_records_say() -> None:
    from billbridge.engine.reconcile import Reconciled
    from billbridge.report_html import reconcile_page

    v = views([expected()], [booked(amount="10.50")], {ISSUE: "h1"})
    (d,) = compare(v)
    evil = replace(d, detail="<script>alert(1)</script>")
    page = reconcile_page([Reconciled(flow=FLOW, discrepancies=[evil])], now=T0)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<tr") == 2  # the header row and one discrepancy
    assert "amount_mismatch" in page and "<svg" in page
