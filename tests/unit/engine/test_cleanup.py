"""The day's clean-up estimate: minutes per cause by what fixing it takes, and its alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billbridge.alert_config import AlertRules
from billbridge.engine.alerts import evaluate
from billbridge.engine.causes import group_causes
from billbridge.engine.cleanup import cleanup_of
from billbridge.engine.status import Status

from .test_causes import T0, currency_row, held_on, row, tax_row, total_row


def scenario(*, with_tax: bool = True) -> list:  # type: ignore[type-arg]
    rows = [tax_row(i, f"in_tax{i}") for i in range(50)] if with_tax else []
    rows += [held_on(100 + i, f"ch_tax{i}", f"in_tax{i}") for i in range(50)]
    rows += [currency_row(200 + i, f"in_cur{i}") for i in range(3)]
    rows += [total_row(300, "in_total")]
    return rows


def test_the_scenario_takes_32_minutes_and_22_once_the_tax_rate_is_fixed() -> None:
    before = cleanup_of(group_causes(scenario()))
    # tax rate: one mapping edit (5) + 50 x 0.1; currency: 5 + 3 x 3; total: 5 + 1 x 3
    assert before.minutes == 32
    assert [(c, n, m) for c, n, m in before.causes] == [
        ("currency:xyz", 3, 14.0), ("tax-rate:txr_at_vat20", 50, 10.0), ("total", 1, 8.0),
    ]  # fmt: skip
    # Once the 50 posted, the payments waiting on them are released: they cost nothing.
    after = cleanup_of(group_causes(scenario(with_tax=False)))
    assert after.minutes == 22


def test_what_waits_or_retries_by_itself_costs_nothing_and_a_conflict_costs_most() -> None:
    later = T0 + timedelta(minutes=10)
    rows = [
        held_on(1, "ch_1", "in_never_seen"),
        row(2, "k:invoice:a", field="target", retryable=True, next_try_at=later),
    ]
    assert cleanup_of(group_causes(rows)).minutes == 0
    conflict = [row(3, "k:invoice:b", kind="conflict", field="postings", error="differs")]
    assert cleanup_of(group_causes(conflict)).minutes == 15
    line = [row(4, "stripe:unknown:line-3", field="line", error="line 3: not JSON")]
    assert cleanup_of(group_causes(line)).minutes == 7


@pytest.mark.parametrize(("with_tax", "fires"), [(True, True), (False, False)])
def test_the_cleanup_alert_fires_above_30_minutes_by_default(with_tax: bool, fires: bool) -> None:
    estimate = cleanup_of(group_causes(scenario(with_tax=with_tax)))
    status = Status(at=datetime(2026, 1, 5, tzinfo=UTC), flows={}, incidents_open={},
                    cleanup=estimate)  # fmt: skip
    found = evaluate(AlertRules(), status, last_runs={}, first_runs={}, discrepancies=[])
    assert [f.rule for f in found] == (["cleanup_minutes"] if fires else [])
    if fires:
        assert found[0].detail.startswith("today's clean-up is estimated at 32 min (limit 30 min)")
        assert "currency:xyz (3 records, 14 min)" in found[0].detail
    off = evaluate(
        AlertRules(cleanup_minutes=None), status, last_runs={}, first_runs={}, discrepancies=[]
    )
    assert off == []
