"""The oracle in the suite: generated Stripe histories, synced in random order, checked.

A bounded number of examples per ledger and mode (the whole module runs in about a
minute); `bench/oracle.py` runs the same checks over many more histories. A failing
example is a counterexample: hypothesis shrinks it, and it becomes a named regression
test in tests/oracle/test_regressions.py (with its fix).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .check import Mode, Plan, run_history
from .histories import History, histories


@st.composite
def cases(draw: st.DrawFn, *, settle: bool = True) -> tuple[History, Plan]:
    history = draw(histories(settle=settle))
    n = len(history.units())
    order = tuple(draw(st.permutations(range(n))))
    cuts = tuple(sorted(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=2, unique=True))))
    return history, Plan(
        order=order, cuts=cuts if n > 1 else (), batch_size=draw(st.integers(1, 7))
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
