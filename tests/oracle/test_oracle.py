"""The oracle in the suite: generated Stripe histories, synced in random order, checked.

A bounded number of examples per ledger and mode (the whole module runs in about a
minute); `bench/oracle.py` runs the same checks over many more histories. A failing
example is a counterexample: hypothesis shrinks it, and it becomes a named regression
test in tests/oracle/test_regressions.py (with its fix).
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .check import Mode, Plan, run_history
from .histories import History, histories

# Recognition dates: month ends (where months fall due) and any day, from before the
# first invoice to a day already past whichever day the suite runs on.
_MONTH_ENDS = [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31),
               date(2026, 6, 30), date(2026, 9, 30), date(2026, 11, 30)]  # fmt: skip
_DAYS = st.one_of(
    st.sampled_from(_MONTH_ENDS), st.dates(min_value=date(2026, 2, 20), max_value=date(2026, 12, 1))
)


@st.composite
def cases(draw: st.DrawFn, *, settle: bool = True) -> tuple[History, Plan]:
    history = draw(histories(settle=settle))
    n = len(history.units())
    order = tuple(draw(st.permutations(range(n))))
    cuts = tuple(sorted(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=2, unique=True))))
    cuts = cuts if n > 1 else ()
    through = draw(st.one_of(st.none(), _DAYS, _DAYS, _DAYS))
    early: tuple[date | None, ...] = ()
    if through is not None:  # never after the last: a later one would leave pieces unposted
        early = tuple(
            None if day is None else min(day, through)
            for day in (draw(st.one_of(st.none(), _DAYS)) for _ in cuts)
        )
    return history, Plan(
        order=order,
        cuts=cuts,
        batch_size=draw(st.integers(1, 7)),
        early=early,
        through=through,
        # east of UTC only: every day then has a rate in the EUR books' March table
        zone=draw(st.sampled_from(["UTC", "Europe/Berlin", "Asia/Tokyo"])),
    )


def _check(case: tuple[History, Plan], *, target: str, mode: Mode) -> None:
    history, plan = case
    with tempfile.TemporaryDirectory(prefix="oracle-") as tmp:
        found = run_history(Path(tmp) / "ws", history, plan, target=target, mode=mode)
    assert found == [], "\n".join(found)


# No shrinking in the suite: each example is a whole workspace and several syncs, and
# hypothesis can spend minutes shrinking one. A failure prints the case as generated;
# `bench/oracle.py --shrink` shrinks it for the regression test.
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)
_FEW = settings(
    max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), phases=_PHASES
)
_FEWER = settings(
    max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), phases=_PHASES
)


@_FEW
@given(cases())
def test_transaction_currency_books_on_beancount(case: tuple[History, Plan]) -> None:
    _check(case, target="beancount", mode="multi")


@_FEW
@given(cases())
def test_transaction_currency_books_on_the_sql_ledger(case: tuple[History, Plan]) -> None:
    _check(case, target="sqlgl", mode="multi")


@_FEW
@given(cases())
def test_eur_books_on_beancount(case: tuple[History, Plan]) -> None:
    _check(case, target="beancount", mode="functional")


@_FEWER
@given(cases())
def test_eur_books_on_gnucash(case: tuple[History, Plan]) -> None:
    pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
    _check(case, target="gnucash", mode="functional")


@_FEWER
@given(cases())
def test_eur_books_on_the_sql_ledger(case: tuple[History, Plan]) -> None:
    _check(case, target="sqlgl", mode="functional")
