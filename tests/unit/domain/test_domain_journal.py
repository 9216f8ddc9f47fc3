"""Journal entries balance per currency or refuse to exist."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billbridge.domain import DomainError, JournalEntry, Money, Posting


def m(text: str, currency: str = "EUR") -> Money:
    return Money(amount=Decimal(text), currency=currency)


def entry(*postings: Posting) -> JournalEntry:
    return JournalEntry(
        date=date(2024, 3, 1),
        narration="Invoice HB-0042 — Globex Corp",
        postings=postings,
        key="flow:stripe:invoice:in_1:posting",
        source="stripe:invoice:in_1",
        version="abc123",
    )


def test_a_balanced_entry_is_built() -> None:
    e = entry(
        Posting(account="Assets:Receivable", amount=m("119.00")),
        Posting(account="Income:Sales", amount=m("-100.00")),
        Posting(account="Liabilities:VAT", amount=m("-19.00")),
    )
    assert e.problems() == ()
    assert e.totals() == {"EUR": m("119.00")}


def test_two_currencies_each_balanced_are_fine() -> None:
    e = entry(
        Posting(account="Assets:Receivable", amount=m("10.00")),
        Posting(account="Income:Sales", amount=m("-10.00")),
        Posting(account="Assets:Receivable", amount=m("1500", "JPY")),
        Posting(account="Income:Sales", amount=m("-1500", "JPY")),
    )
    assert e.totals() == {"EUR": m("10.00"), "JPY": m("1500", "JPY")}


def test_one_unbalanced_currency_is_named_with_its_amount() -> None:
    with pytest.raises(DomainError) as info:
        entry(
            Posting(account="Assets:Receivable", amount=m("10.00")),
            Posting(account="Income:Sales", amount=m("-10.00")),
            Posting(account="Assets:Receivable", amount=m("1500", "JPY")),
            Posting(account="Income:Sales", amount=m("-1499", "JPY")),
        )
    problems = info.value.problems
    assert len(problems) == 1
    (problem,) = problems
    assert problem.record == "stripe:invoice:in_1"
    assert problem.field == "postings"
    assert "JPY" in problem.message
    assert "1 JPY" in problem.message
    assert "EUR" not in problem.message
    assert problem.hint


def test_every_unbalanced_currency_is_reported() -> None:
    with pytest.raises(DomainError) as info:
        entry(
            Posting(account="Assets:Receivable", amount=m("10.00")),
            Posting(account="Income:Sales", amount=m("-9.99")),
            Posting(account="Assets:Receivable", amount=m("2.000", "KWD")),
        )
    messages = [p.message for p in info.value.problems]
    assert len(messages) == 2
    assert "0.01 EUR" in messages[0]
    assert "2.000 KWD" in messages[1]


def test_an_empty_entry_is_refused() -> None:
    with pytest.raises(DomainError, match="no postings") as info:
        entry()
    assert info.value.problems[0].field == "postings"


def test_totals_sum_debits_per_currency() -> None:
    e = entry(
        Posting(account="Assets:Bank", amount=m("95.00")),
        Posting(account="Expenses:Fees", amount=m("5.00")),
        Posting(account="Assets:Receivable", amount=m("-100.00")),
    )
    assert e.totals() == {"EUR": m("100.00")}
