"""Retry policy: a failure in, a decision out (the shape of procrastinate's `retry.py`).

Why a pure function: whether to try again, and when, is the rule finance asks about
("why did it not retry?"). Keeping it free of I/O and clocks makes it a table of cases
in the tests. Jitter comes from an injected random number so it is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = ["FailureKind", "RetryDecision", "RetryPolicy", "decide"]


class FailureKind(StrEnum):
    """What a failure means for the record, by what happens next."""

    RETRYABLE = "retryable"  # try again later: a locked file, a timeout, a 5xx
    PERMANENT = "permanent"  # the data or mapping is wrong: queue it until a person acts
    FATAL = "fatal"  # nothing else in this run can succeed: stop the run


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    attempts: int = 3  # tries in the run after the first failure
    base_seconds: float = 0.2
    max_seconds: float = 30.0
    queue_delay_seconds: float = 300.0  # when the next sync picks a queued retryable row up


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryDecision:
    """`wait` seconds before trying again now, or `queue` with `next_try_at`."""

    retry_now: bool
    wait_seconds: float = 0.0
    next_try_at: datetime | None = None


def decide(
    kind: FailureKind,
    *,
    attempt: int,
    policy: RetryPolicy,
    now: datetime,
    jitter: float,
) -> RetryDecision:
    """`attempt` counts failures so far (1 after the first); `jitter` is uniform in [0, 1).

    Backoff is exponential with "full jitter" (AWS architecture blog): a wait drawn
    between zero and base·2^(attempt-1), capped, so many workers do not retry in step.
    """
    if kind is not FailureKind.RETRYABLE:
        return RetryDecision(retry_now=False)
    if attempt <= policy.attempts:
        ceiling = min(policy.max_seconds, policy.base_seconds * 2 ** (attempt - 1))
        return RetryDecision(retry_now=True, wait_seconds=ceiling * jitter)
    delay = policy.queue_delay_seconds * (1 + jitter)
    return RetryDecision(retry_now=False, next_try_at=now + timedelta(seconds=delay))
