"""The retry policy as a table of cases: a failure in, a decision out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billbridge.engine.retry import FailureKind, RetryPolicy, decide

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(attempts=3, base_seconds=0.5, max_seconds=1.5, queue_delay_seconds=60)


@pytest.mark.parametrize(
    ("kind", "attempt", "jitter", "retry_now", "wait", "next_try"),
    [
        (FailureKind.PERMANENT, 1, 0.5, False, 0.0, None),
        (FailureKind.FATAL, 1, 0.5, False, 0.0, None),
        (FailureKind.RETRYABLE, 1, 0.5, True, 0.25, None),  # 0.5 * 2^0 * jitter
        (FailureKind.RETRYABLE, 2, 0.5, True, 0.5, None),  # 0.5 * 2^1 * jitter
        (FailureKind.RETRYABLE, 3, 1.0, True, 1.5, None),  # capped at max_seconds
        (FailureKind.RETRYABLE, 3, 0.0, True, 0.0, None),  # full jitter can be zero
        (FailureKind.RETRYABLE, 4, 0.0, False, 0.0, NOW + timedelta(seconds=60)),
        (FailureKind.RETRYABLE, 4, 0.5, False, 0.0, NOW + timedelta(seconds=90)),
    ],
)
def test_decision_table(
    kind: FailureKind,
    attempt: int,
    jitter: float,
    retry_now: bool,
    wait: float,
    next_try: datetime | None,
) -> None:
    decision = decide(kind, attempt=attempt, policy=POLICY, now=NOW, jitter=jitter)
    assert decision.retry_now is retry_now
    assert decision.wait_seconds == pytest.approx(wait)
    assert decision.next_try_at == next_try


def test_no_retries_configured_queues_at_once() -> None:
    policy = RetryPolicy(attempts=0)
    decision = decide(FailureKind.RETRYABLE, attempt=1, policy=policy, now=NOW, jitter=0.0)
    assert decision.retry_now is False
    assert decision.next_try_at is not None
