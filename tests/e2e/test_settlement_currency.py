"""Issue 14, finding 5: a charge settled in another currency than the customer paid in.

A EUR Stripe account charging a USD invoice: the charge is 119.00 USD, its balance
transaction 110.00 EUR (Stripe's `exchange_rate`), fee 3.30 EUR, net 106.70 EUR. Before
the fix every such charge failed ("multi-currency settlement is not supported yet").
Now clearing and fees post in the settlement currency, the receivable is cleared in the
invoice currency, and the difference against the rate the invoice was booked at is the
realized exchange gain or loss. Books without a functional currency carry the exchange
through `accounts.conversion` instead.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.oracle.stripe_json import Line, charge, invoice, invoice_payment, refund, ts

from .books_cases import (
    FX_EUR,
    MAPPING,
    TARGETS,
    account_balance,
    bean_check,
    by_facet,
    lines,
    make_books,
)

RATES = FX_EUR.replace(
    "  max_age_days: 31\n",
    '    - {date: 2026-03-20, pair: USD/EUR, rate: "0.9500"}\n  max_age_days: 31\n',
)


def _records(api: str = "current") -> list[dict[str, object]]:
    day = ts("2026-03-02")
    paid = ts("2026-03-20")
    records: list[dict[str, object]] = [
        invoice("in_usd", number="ST-1", currency="usd", lines=[Line(10000, tax=1900)],
                created=day, status="paid", amount_paid=11900, api=api),  # type: ignore[arg-type]
    ]  # fmt: skip
    if api == "current":
        records.append(invoice_payment("inpay_usd", invoice="in_usd", intent="pi_usd",
                                       amount=11900, currency="usd", created=paid))  # fmt: skip
    records += [
        *charge("ch_usd", invoice="in_usd", amount=11900, fee=330, currency="usd", created=paid,
                settle=("eur", "0.92437", 11000), intent="pi_usd", api=api),  # type: ignore[arg-type]
        # 19.00 USD refunded five days later, at Stripe's rate of that day: 17.20 EUR
        *refund("re_usd", charge="ch_usd", amount=1900, currency="usd", created=paid + 5 * 86400,
                settle=("eur", 1720)),
    ]  # fmt: skip
    return records


@pytest.mark.parametrize("target", TARGETS)
def test_a_settlement_in_the_functional_currency_realizes_the_exchange_difference(
    tmp_path: Path, target: str
) -> None:
    books = make_books(tmp_path / "ws", target, _records(), mapping=MAPPING + RATES)
    code, run = books.cli("sync")
    assert code == 0, run
    rows = lines(books, target)
    facets = by_facet(rows)
    payment = facets["stripe:charge:ch_usd|payment"]
    # cash and fee in the settlement currency, as Stripe states them
    assert payment[("Assets:Stripe:Clearing", "EUR")] == Decimal("106.70")
    assert payment[("Expenses:Stripe:Fees", "EUR")] == Decimal("3.30")
    # 110.00 EUR received against 119.00 USD booked at 0.90 = 107.10 EUR: a gain of 2.90
    assert payment[("Income:FX-Gain", "EUR")] == Decimal("-2.90")
    # the refund: 19.00 USD of revenue back at 0.95 (18.05 EUR), 17.20 EUR paid out
    assert account_balance(rows, "Income:FX-Gain") == {"EUR": Decimal("-3.75")}
    assert account_balance(rows, "Assets:Stripe:Clearing") == {"EUR": Decimal("89.50")}
    receivable = account_balance(rows, "Assets:Receivable")
    assert receivable == {}  # cleared: in USD units on Beancount, in EUR on the others
    if target == "beancount":
        assert payment[("Assets:Receivable", "USD")] == Decimal("-119.00")
        check = bean_check(books)
        assert check.returncode == 0, check.stdout + check.stderr
    code, report = books.cli("books", "check")
    assert code == 0, report
    code, again = books.cli("sync")
    assert again["posted"] == 0


@pytest.mark.parametrize("target", ["beancount", "sqlgl"])
@pytest.mark.parametrize("api", ["current", "2017-08-15"])
def test_without_a_functional_currency_the_conversion_account_carries_the_exchange(
    tmp_path: Path, target: str, api: str
) -> None:
    mapping = MAPPING.replace(
        "  unapplied: Liabilities:Prepayments\n",
        "  unapplied: Liabilities:Prepayments\n  conversion: Equity:Conversions\n",
    )
    books = make_books(tmp_path / "ws", target, _records(api), mapping=mapping)
    code, run = books.cli("sync")
    assert code == 0, run
    rows = lines(books, target)
    assert account_balance(rows, "Assets:Receivable") == {}  # 119.00 USD in, 119.00 USD out
    assert account_balance(rows, "Assets:Stripe:Clearing") == {"EUR": Decimal("89.50")}
    # the exchange: 100.00 USD net came in through it, 92.80 EUR went out
    assert account_balance(rows, "Equity:Conversions") == {
        "USD": Decimal("100.00"),
        "EUR": Decimal("-92.80"),
    }
    code, report = books.cli("books", "check")
    assert code == 0, report
    if target == "beancount":
        check = bean_check(books)
        assert check.returncode == 0, check.stdout + check.stderr


def test_without_a_conversion_account_the_charge_fails_naming_the_key(tmp_path: Path) -> None:
    books = make_books(tmp_path / "ws", "beancount", _records())
    code, _run = books.cli("sync")
    assert code == 1
    _, queue = books.cli("queue")
    rows = {row["record"]: row for row in queue}
    assert set(rows) == {"stripe:charge:ch_usd", "stripe:refund:re_usd"}
    charge_row = rows["stripe:charge:ch_usd"]
    assert charge_row["field"] == "accounts.conversion"
    assert "paid in USD and settled in EUR" in charge_row["error"]


def test_gnucash_refuses_a_two_currency_entry_out_loud(tmp_path: Path) -> None:
    """A GnuCash transaction has one currency: without a functional currency the entry
    of a cross-currency settlement (USD and EUR legs) is refused and queued, not lost."""
    mapping = MAPPING.replace(
        "  unapplied: Liabilities:Prepayments\n",
        "  unapplied: Liabilities:Prepayments\n  conversion: Equity:Conversions\n",
    )
    books = make_books(tmp_path / "ws", "gnucash", _records(), mapping=mapping)
    code, _run = books.cli("sync")
    assert code == 1
    _, queue = books.cli("queue")
    [row] = [r for r in queue if r["record"] == "stripe:charge:ch_usd"]
    assert "a GnuCash transaction has one currency" in row["error"]
