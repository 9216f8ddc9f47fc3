"""The client-side limiter and 429 handling against a real server that throttles.

The server answers 429 above N requests per second (with `Retry-After`, like Stripe).
A backfill paced below N completes with every record and 429s under 1% of requests;
one paced above N still completes, because every 429 is waited out and counted.
"""

from __future__ import annotations

import time

import orjson
import pytest

from billbridge.connectors.base import FatalError, RetryableError
from billbridge.connectors.stripe_api import StripeApi, StripeApiSource

from ._throttled import throttled_stripe
from .conftest import TEST_KEY


def _backfill(base: str, rate: float) -> tuple[list[str], StripeApiSource]:
    source = StripeApiSource(
        "stripe", StripeApi(api_key=TEST_KEY, api_base=base, rate=rate), objects=["customers"]
    )
    return [r.id for r in source.read(None)], source


def test_paced_backfill_gets_everything_with_under_one_percent_429s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("billbridge.connectors.stripe_api._source._PAGE", 5)
    with throttled_stripe(limit=20, customers=400) as (base, server):
        ids, source = _backfill(base, rate=16)
    assert ids == [f"cus_{i:06d}" for i in range(400)]
    assert server.requests >= 80
    assert server.throttled / server.requests < 0.01
    stats = source.summary()
    assert stats["objects"] == {"customer": 400}
    assert stats["paced_waits"] > 0  # the limiter, not the server, set the pace


def test_too_fast_client_waits_out_every_429_and_counts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("billbridge.connectors.stripe_api._source._PAGE", 5)
    with throttled_stripe(limit=10, customers=150) as (base, server):
        ids, source = _backfill(base, rate=200)
    assert ids == [f"cus_{i:06d}" for i in range(150)]
    assert server.throttled > 0
    stats = source.summary()
    assert stats["throttled"] == server.throttled
    assert stats["backoff_seconds"] >= server.throttled  # Retry-After: 1 honoured
    assert "429" in source.progress_note()
    figures = source.figures()  # what a run keeps: pacing and 429 backoffs together
    assert figures.throttled == server.throttled
    assert figures.requests == server.requests
    assert figures.rate_limit_waits == stats["paced_waits"] + stats["backoff_waits"]
    assert figures.rate_limit_wait_seconds >= server.throttled
    assert f"rate-limit waits {figures.rate_limit_waits} " in source.progress_note()


def test_a_retried_server_error_is_not_a_rate_limit_wait() -> None:
    with throttled_stripe(limit=100, customers=5) as (base, server):
        server.errors = 1
        ids, source = _backfill(base, rate=100)
    assert len(ids) == 5
    stats = source.summary()
    assert (stats["error_waits"], stats["throttled"], stats["backoff_waits"]) == (1, 0, 0)
    assert stats["error_seconds"] > 0
    figures = source.figures()
    assert (figures.rate_limit_waits, figures.rate_limit_wait_seconds) == (0, 0.0)
    assert figures.requests == server.requests == 3  # the list twice (500, then 200), events


def test_stripe_should_retry_false_is_not_retried() -> None:
    with throttled_stripe(limit=0, customers=5) as (base, server):
        server.should_retry = "false"
        api = StripeApi(api_key=TEST_KEY, api_base=base)
        with pytest.raises(RetryableError, match=r"HTTP 429.*request req_1") as info:
            api.get("/v1/customers", {"limit": 5})
    assert server.requests == 1
    assert TEST_KEY not in str(info.value)


def test_an_events_cursor_older_than_stripe_keeps_events_asks_for_a_backfill() -> None:
    old = int(time.time()) - 31 * 86400
    with throttled_stripe(limit=100, customers=1) as (base, _):
        source = StripeApiSource(
            "stripe", StripeApi(api_key=TEST_KEY, api_base=base), objects=["customers"]
        )
        cursor = orjson.dumps({"v": 1, "floor": old, "done": ["customers"], "ev": [old, []]})
        with pytest.raises(FatalError, match=r"more than 30 days ago.*--backfill"):
            list(source.read(cursor.decode()))
