"""The oracle's own schedule on docs/mapping.md's rounding example, and the books on it.

Why: the oracle's deferred checks are only as good as its independent schedule; this
pins it to the worked example the docs give (45 JPY over 17 March - 15 April 2026:
23 JPY in March, a tie rounded half away from zero, 22 JPY in April) and runs the same
history through the CLI on each ledger.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.books_cases import lines, make_books, write_export

from .check import Plan, mapping_text, run_history
from .deferred import DEFERRED, legs
from .histories import DAY, HInvoice, History
from .stripe_json import Line, ts

_START = ts("2026-03-17", hour=9)


def _history() -> History:
    line = Line(45, period=(_START, _START + 30 * DAY))
    return History(
        api="current",
        invoices=[HInvoice(id="in_0", number="H-0001", currency="jpy", lines=[line],
                           created=_START, status="open")],
    )  # fmt: skip


def test_the_oracle_schedule_gives_the_documented_figures() -> None:
    [leg] = legs(_history(), "UTC")
    assert (leg.start, leg.end, leg.days, leg.amount) == (date(2026, 3, 17), date(2026, 4, 16),
                                                          30, 45)  # fmt: skip
    assert leg.remainder(date(2026, 3, 30)) == -45
    assert leg.remainder(date(2026, 3, 31)) == -22  # 22.5 earned: 23 recognized
    assert leg.recognized(date(2026, 3, 31)) == -23
    assert leg.remainder(date(2026, 4, 10)) == -22  # April's piece ends on 15 April
    assert leg.remainder(date(2026, 4, 30)) == 0
    assert leg.recognized(date(2026, 4, 30)) == -45


@pytest.mark.parametrize("target", ["beancount", "gnucash", "sqlgl"])
@pytest.mark.parametrize(
    ("through", "left"), [(date(2026, 3, 31), -22), (date(2026, 4, 10), -22), (None, -45)]
)
def test_the_books_hold_the_documented_figures(
    tmp_path: Path, target: str, through: date | None, left: int
) -> None:
    history = _history()
    mode = "multi" if target != "gnucash" else "functional"
    plan = Plan(order=(0,), cuts=(), batch_size=1, through=through)
    assert run_history(tmp_path / "ws", history, plan, target=target, mode=mode) == []
    if target == "gnucash":
        return  # EUR books: the oracle checks them within the conversion's rounding
    books = make_books(tmp_path / "again", target, [], mapping=mapping_text("multi"))
    write_export(books.root, [obj for unit in history.units() for obj in unit])
    assert books.cli("sync")[0] == 0
    if through is not None:
        assert books.cli("recognize", "--through", through.isoformat())[0] == 0
    held = sum(
        (amount for *_, account, cur, amount in lines(books, target) if account == DEFERRED),
        Decimal(0),
    )
    assert held == left
