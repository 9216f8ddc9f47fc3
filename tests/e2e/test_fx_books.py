"""Issue 14, findings 3 and 4: FX books that Beancount accepts and `books check` passes.

EUR books with JPY (0 decimals), KWD (3 decimals) and USD invoices, and a USD payment
at another rate (a realized gain). Before: bean-check rejected the all-converted JPY and
KWD entries ("does not balance (±1e-27 EUR)"), and `books check` failed every target:
on Beancount it summed units per currency ("EUR postings sum to -x, not zero"), on
GnuCash and the SQL GL it compared the USD source amount with EUR-only entries.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.oracle.stripe_json import Line, charge, invoice, ts

from .books_cases import FX_EUR, MAPPING, TARGETS, account_balance, bean_check, lines, make_books

RATES = FX_EUR.replace(
    "  max_age_days: 31\n",
    '    - {date: 2026-03-20, pair: USD/EUR, rate: "0.9500"}\n  max_age_days: 31\n',
)


def _records() -> list[dict[str, object]]:
    day = ts("2026-03-02")
    return [
        invoice("in_jpy", number="FX-1", currency="jpy", created=day,
                lines=[Line(1000, tax=190), Line(44, tax=0)]),
        invoice("in_kwd", number="FX-2", currency="kwd", created=day + 1,
                lines=[Line(12345, tax=617), Line(1001)]),
        invoice("in_usd", number="FX-3", currency="usd", created=day + 2,
                lines=[Line(10000, tax=1900)]),
        *charge("ch_usd", invoice="in_usd", amount=11900, fee=300, currency="usd",
                created=ts("2026-03-20"), api="2017-08-15"),
    ]  # fmt: skip


@pytest.mark.parametrize("target", TARGETS)
def test_fx_books_are_bean_check_clean_and_pass_books_check(tmp_path: Path, target: str) -> None:
    books = make_books(tmp_path / "ws", target, _records(), mapping=MAPPING + RATES)
    code, run = books.cli("sync")
    assert code == 0, run
    assert run["counts"]["synced"] == 5
    if target == "beancount":
        check = bean_check(books)
        assert check.returncode == 0, check.stdout + check.stderr
    code, report = books.cli("books", "check")
    assert code == 0, report
    [result] = report["targets"]
    assert all(Decimal(v) == 0 for v in result["trial_balance"].values())
    rows = lines(books, target)
    # the realized gain: 116.00 + 3.00 USD at 0.95 against 119.00 USD booked at 0.90
    gain = account_balance(rows, "Income:FX-Gain")
    assert gain == {"EUR": Decimal("-5.95")}
    if target == "beancount":
        # Beancount keeps the transaction currency: the USD receivable is settled exactly
        assert "USD" not in account_balance(rows, "Assets:Receivable")
        by_object = {t["object"]: t for t in result["totals"] if t["currency"] == "USD"}
        assert Decimal(by_object["charge"]["source"]) == Decimal("119.00")
        assert by_object["charge"]["posted"] == by_object["charge"]["source"]
    else:
        # the others keep the converted amounts only: compared nowhere, counted as such
        converted = {(c["object"], c["currency"]) for c in result["converted"]}
        assert ("charge", "USD") in converted and ("invoice", "JPY") in converted
        receivable = account_balance(rows, "Assets:Receivable")
        # JPY and KWD open at their issue-day rates; USD settled to zero in EUR
        jpy = (Decimal(1234) * Decimal("0.006123")).quantize(Decimal("0.01"))
        kwd = (Decimal("13.963") * Decimal("2.9871")).quantize(Decimal("0.01"))
        assert receivable == {"EUR": jpy + kwd}
