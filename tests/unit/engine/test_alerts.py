"""Alert rules as a pure function: each rule's threshold, on either side of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from billbridge.alert_config import AlertRules, AlertsConfig
from billbridge.engine.alerts import evaluate, failure_rate
from billbridge.engine.status import FlowStatus, Status
from billbridge.store.base import DiscrepancyRow, RunCost, RunFigures, RunRow

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def run(failed: int, synced: int, *, hours_ago: float = 1) -> RunRow:
    return RunRow(
        id=7,
        flow="f",
        kind="live",
        actor="t",
        started_at=NOW - timedelta(hours=hours_ago),
        status="finished",
        counts={"synced": synced, "failed": failed, "unchanged": 500},
    )


def status(**flow: object) -> Status:
    return Status(at=NOW, flows={"f": FlowStatus(flow="f", **flow)}, incidents_open={})  # type: ignore[arg-type]


def rules_fired(rules: AlertRules, st: Status, **kw: object) -> list[str]:
    args: dict[str, object] = {"last_runs": {}, "first_runs": {}, "discrepancies": []}
    args.update(kw)
    return [f"{f.rule}:{f.subject}" for f in evaluate(rules, st, **args)]  # type: ignore[arg-type]


def test_failure_rate_ignores_unchanged_records() -> None:
    assert failure_rate(run(1, 3)) == 25.0
    assert failure_rate(run(0, 0)) is None


@pytest.mark.parametrize(("oldest_hours", "fires"), [(1.9, False), (2.1, True)])
def test_queue_older_than(oldest_hours: float, fires: bool) -> None:
    st = status(queue_open=3, queue_oldest=NOW - timedelta(hours=oldest_hours))
    fired = rules_fired(AlertRules(queue_older_than_hours=2), st)
    assert fired == (["queue_older_than_hours:f"] if fires else [])


@pytest.mark.parametrize(("failed", "fires"), [(1, False), (3, True)])
def test_failure_rate_above(failed: int, fires: bool) -> None:
    fired = rules_fired(
        AlertRules(failure_rate_percent=2), status(), last_runs={"f": run(failed, 100 - failed)}
    )
    assert fired == (["failure_rate_percent:f"] if fires else [])


def test_duplicate_and_old_status_mismatch() -> None:
    rows = [
        DiscrepancyRow(
            flow="f", kind="duplicate_posting", record_key="r", idempotency_key="f|r|issue",
            first_seen=NOW,
        ),
        DiscrepancyRow(
            flow="f", kind="status_mismatch", record_key="a", idempotency_key="f|a|void",
            first_seen=NOW - timedelta(hours=5),
        ),
        DiscrepancyRow(
            flow="f", kind="status_mismatch", record_key="b", idempotency_key="f|b|void",
            first_seen=NOW - timedelta(hours=1),
        ),
    ]  # fmt: skip
    rules = AlertRules(duplicate_posting=True, status_mismatch_older_than_hours=4)
    assert rules_fired(rules, status(), discrepancies=rows) == [
        "duplicate_posting:f|r|issue",
        "status_mismatch_older_than_hours:f|a|void",
    ]
    assert rules_fired(AlertRules(), status(), discrepancies=rows) == []


def test_number_duplicate_fires_per_repeated_invoice_and_gaps_never_do() -> None:
    rows = [
        DiscrepancyRow(
            flow="f", kind="number_duplicate", record_key="r", idempotency_key="f|r|number",
            first_seen=NOW,
        ),
        DiscrepancyRow(
            flow="f", kind="number_gap", record_key="g", idempotency_key="f|default:INV-|gap-3-3",
            first_seen=NOW - timedelta(days=30),
        ),
    ]  # fmt: skip
    every_rule = AlertRules(
        queue_older_than_hours=0, duplicate_posting=True, number_duplicate=True,
        status_mismatch_older_than_hours=0,
    )  # fmt: skip
    assert rules_fired(every_rule, status(), discrepancies=rows) == ["number_duplicate:f|r|number"]
    assert rules_fired(AlertRules(duplicate_posting=True), status(), discrepancies=rows) == []


def test_flow_not_succeeded() -> None:
    rules = AlertRules(flow_not_succeeded_hours=24)
    assert rules_fired(rules, status(last_success=NOW - timedelta(hours=23))) == []
    assert rules_fired(rules, status(last_success=NOW - timedelta(hours=25))) == [
        "flow_not_succeeded_hours:f"
    ]
    # never succeeded: counted from its first run; no run at all is not an incident
    assert rules_fired(rules, status(), first_runs={"f": run(1, 0, hours_ago=30)}) == [
        "flow_not_succeeded_hours:f"
    ]
    assert rules_fired(rules, status()) == []


def cost(wait_seconds: float, duration_seconds: float) -> RunCost:
    figures = RunFigures(requests=40, rate_limit_waits=9, rate_limit_wait_seconds=wait_seconds,
                         throttled=2)  # fmt: skip
    started = NOW - timedelta(seconds=duration_seconds)
    return RunCost(run_id=7, started_at=started, finished_at=NOW, figures=figures)


@pytest.mark.parametrize(("waited", "fires"), [(9.9, False), (10.1, True)])
def test_rate_limit_waits_above_a_share_of_the_last_run(waited: float, fires: bool) -> None:
    rules = AlertRules(rate_limit_wait_percent=10)
    fired = rules_fired(rules, status(last_cost=cost(waited, 100)))
    assert fired == (["rate_limit_wait_percent:f"] if fires else [])


def test_rate_limit_rule_needs_counted_figures_and_a_duration() -> None:
    rules = AlertRules(rate_limit_wait_percent=10)
    assert rules_fired(rules, status()) == []  # an export-file source counts no waits
    assert rules_fired(rules, status(last_cost=cost(0, 0))) == []
    assert rules_fired(AlertRules(), status(last_cost=cost(99, 100))) == []
    (firing,) = evaluate(
        rules, status(last_cost=cost(30, 60)), last_runs={}, first_runs={}, discrepancies=[]
    )
    assert "run 7 waited 30.0 s" in firing.detail
    assert "9 waits, 2 answered 429" in firing.detail
    assert "50.0% of its time (limit 10%)" in firing.detail
    with pytest.raises(ValidationError, match="rate_limit_wait_percent"):
        AlertRules.model_validate({"rate_limit_wait_percent": 101})


def test_alerts_config_needs_a_channel_and_hides_secrets() -> None:
    with pytest.raises(ValidationError, match="webhook"):
        AlertsConfig.model_validate({"rules": {"duplicate_posting": True}})
    config = AlertsConfig.model_validate({"webhook": "https://hooks.example/T0KEN"})
    assert "T0KEN" not in repr(config)
