"""Issue 14, finding 1: a zero-total invoice is a document, not a crash.

Stripe issues zero invoices for trials and 100 % coupons. Before the fix the sync died
with `DomainError: journal entry has no postings`, queued nothing, and every later sync
stopped on the same record. Now it posts nothing (or a memo entry), keeps its number in
the series, and the records after it post.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from billbridge.domain import JournalEntry
from tests.oracle.stripe_json import Line, charge, invoice, ts

from .books_cases import MAPPING, TARGETS, bean_check, by_facet, lines, make_books


def _records() -> list[dict[str, object]]:
    day = ts("2026-03-02")
    return [
        invoice("in_1", number="Z-0001", currency="eur", lines=[Line(4900, tax=931)], created=day),
        # a trial: every line at zero
        invoice("in_trial", number="Z-0002", currency="eur", lines=[Line(0)], created=day + 1),
        # a 100 % coupon, `discounts: net`: the discount takes the whole line
        invoice("in_coupon", number="Z-0003", currency="eur",
                lines=[Line(4900, discount=4900), Line(1000, discount=1000)], created=day + 2),
        # a zero invoice voided later
        invoice("in_zvoid", number="Z-0004", currency="jpy", lines=[Line(0)], created=day + 3,
                status="void", voided_at=day + 100),
        invoice("in_2", number="Z-0005", currency="eur", lines=[Line(1000)], created=day + 4),
        # localstripe's 2017-08-15 shape: the coupon is stated on the invoice only
        invoice("in_coupon17", number="Z-0006", currency="kwd", lines=[Line(4900, discount=4900)],
                created=day + 6, api="2017-08-15"),
        *charge("ch_2", invoice="in_2", amount=1000, fee=59, currency="eur", created=day + 5,
                api="2017-08-15"),
    ]  # fmt: skip


@pytest.mark.parametrize("target", TARGETS)
def test_a_zero_invoice_posts_nothing_keeps_its_number_and_the_run_goes_on(
    tmp_path: Path, target: str
) -> None:
    books = make_books(tmp_path / "ws", target, _records())
    code, run = books.cli("sync")
    assert code == 0, run
    assert run["counts"] == {"synced": 8, "unchanged": 0, "failed": 0, "held": 0, "conflict": 0}
    facets = by_facet(lines(books, target))
    assert set(facets) == {
        "stripe:invoice:in_1|issue",
        "stripe:invoice:in_2|issue",
        "stripe:charge:ch_2|payment",
    }
    _, queue = books.cli("queue")
    assert queue == []
    # the zero invoices keep their numbers: no gap between Z-0001 and Z-0005
    _, numbers = books.cli("numbers")
    [series] = [s for s in numbers["series"] if s["series"] == "Z-"]
    assert series["count"] == 6 and series["gaps"] == []
    for key in ("in_trial", "in_coupon", "in_zvoid", "in_coupon17"):
        _, audit = books.cli("audit", "--record", f"stripe:invoice:{key}")
        assert all(row["action"] != "failed" for row in audit)
    code, again = books.cli("sync")
    assert code == 0 and again["counts"]["unchanged"] == 8 and again["posted"] == 0
    code, report = books.cli("books", "check")
    assert code == 0, report
    if target == "beancount":
        check = bean_check(books)
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("target", TARGETS)
def test_zero_invoices_memo_posts_a_memo_entry_at_zero(tmp_path: Path, target: str) -> None:
    books = make_books(
        tmp_path / "ws", target, _records(), mapping=MAPPING + "zero_invoices: memo\n"
    )
    code, run = books.cli("sync")
    assert code == 0, run
    facets = by_facet(lines(books, target))
    assert "stripe:invoice:in_1|issue" in facets
    for key in (
        "in_trial|issue",
        "in_coupon|issue",
        "in_zvoid|issue",
        "in_zvoid|void",
        "in_coupon17|issue",
    ):
        legs = facets[f"stripe:invoice:{key}"]
        assert legs and all(amount == 0 for amount in legs.values()), (key, legs)
    coupon = facets["stripe:invoice:in_coupon|issue"]
    assert {account for account, _ in coupon} >= {"Assets:Receivable", "Income:Sales"}
    code, report = books.cli("books", "check")
    assert code == 0, report
    if target == "beancount":
        check = bean_check(books)
        assert check.returncode == 0, check.stdout + check.stderr


def test_a_record_whose_mapping_raises_fails_alone_with_a_readable_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any exception while mapping one record (here: an entry that refuses to exist)
    becomes that record's permanent failure; the records after it still post."""
    real = JournalEntry.__post_init__

    def refuse_jpy(self: JournalEntry) -> None:
        if any(p.amount.currency == "JPY" for p in self.postings):
            raise RuntimeError("simulated defect in a posting rule")
        real(self)

    monkeypatch.setattr(JournalEntry, "__post_init__", refuse_jpy)
    day = ts("2026-03-02")
    records = [
        invoice("in_jpy", number="Y-1", currency="jpy", lines=[Line(5000)], created=day),
        invoice("in_eur", number="Y-2", currency="eur", lines=[Line(1000)], created=day + 1),
    ]
    books = make_books(tmp_path / "ws", "beancount", records)
    code, run = books.cli("sync")
    assert code == 1
    assert run["counts"]["failed"] == 1 and run["counts"]["synced"] == 1
    _, queue = books.cli("queue")
    [row] = queue
    assert row["record"] == "stripe:invoice:in_jpy"
    assert "RuntimeError: simulated defect in a posting rule" in row["error"]
    assert "stripe:invoice:in_eur|issue" in by_facet(lines(books, "beancount"))
