"""The limiter's arithmetic (fake clock) and the error table of the Stripe edge."""

from __future__ import annotations

import pytest
import stripe

from billbridge.connectors.base import FatalError, RecordError, RetryableError
from billbridge.connectors.stripe_api import RateLimiter, scrub, translate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_limiter_allows_a_burst_then_paces_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(10, burst=2, clock=clock, sleep=clock.sleep)
    for _ in range(12):
        limiter.acquire()
    assert clock.slept[:1] == [pytest.approx(0.1)]
    assert clock.now == pytest.approx(1.0)  # 12 requests: 2 from the burst, 10 at 10/s
    assert limiter.stats.requests == 12
    # the 11th waits until a second after the first (not 0.9 s: 11 in one second), and
    # the 12th then goes at once (a second after the second)
    assert limiter.stats.paced_waits == 9


@pytest.mark.parametrize(("rate", "burst"), [(25, None), (100, None), (10, 10), (2.5, None)])
def test_the_limit_holds_in_every_one_second_window(rate: float, burst: float | None) -> None:
    """At 25/s, no one-second window sees a 26th request (the bucket alone let 30 through
    in the first second: its burst of 5 plus 25 refilled); the rate is still reached."""
    clock = Clock()
    limiter = RateLimiter(rate, burst=burst, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(int(rate * 8)):
        limiter.acquire()
        times.append(clock.now)
    most = int(rate)
    for first, later in zip(times, times[most:], strict=False):
        assert later - first >= 1.0 - 1e-9  # request n and n+most are a second apart
    assert sum(1 for t in times if t < 1.0) <= rate
    # paced to the rate, not below it (whole requests: 2.5/s can keep only 2 a second)
    assert times[-1] <= len(times) / most


def test_a_slow_rate_spaces_single_requests() -> None:
    clock = Clock()
    limiter = RateLimiter(0.5, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(4):
        limiter.acquire()
        times.append(clock.now)
    assert times == [pytest.approx(t) for t in (0.0, 2.0, 4.0, 6.0)]


def test_backoff_is_counted_and_drains_the_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(10, burst=5, clock=clock, sleep=clock.sleep)
    limiter.backoff(2.0)
    assert clock.now == 2.0
    limiter.acquire()
    assert limiter.stats.throttled == 1
    assert limiter.stats.backoff_seconds == 2.0
    assert limiter.stats.paced_waits == 1  # the bucket starts empty after a 429


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (stripe.APIConnectionError("reset"), RetryableError),
        (stripe.APIError("boom", http_status=502), RetryableError),
        (stripe.RateLimitError("slow down", http_status=429), RetryableError),
        (stripe.AuthenticationError("Invalid API Key", http_status=401), FatalError),
        (stripe.PermissionError("no", http_status=403), FatalError),
        (stripe.InvalidRequestError("No such invoice", "id", http_status=404), RecordError),
        (stripe.CardError("declined", "card", "card_declined", http_status=402), RecordError),
        (
            stripe.InvalidRequestError("locked", None, code="lock_timeout", http_status=409),
            RetryableError,
        ),
    ],
)
def test_errors_are_translated_by_what_happens_next(
    error: stripe.StripeError, kind: type[Exception]
) -> None:
    assert type(translate(error, "GET /v1/x")) is kind


def test_message_names_code_and_request_and_never_the_key() -> None:
    error = stripe.InvalidRequestError(
        "Invalid API Key provided: sk_test_abc123secret",
        None,
        code="api_key_invalid",
        http_status=400,
        headers={"request-id": "req_42"},
    )
    message = str(translate(error, "GET /v1/customers"))
    assert "code api_key_invalid" in message
    assert "request req_42" in message
    assert "HTTP 400" in message
    assert "sk_test_abc123secret" not in message
    assert scrub("whsec_abc and rk_live_x") == "<redacted> and <redacted>"
