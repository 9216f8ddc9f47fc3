"""The client-side limiter and 429 handling against a real server that throttles.

The server answers 429 above N requests per second (with `Retry-After`, like Stripe).
A backfill paced below N completes with every record and 429s under 1% of requests;
one paced above N still completes, because every 429 is waited out and counted.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from billbridge.config import Workspace, load_workspace
from billbridge.connectors.base import FatalError, RetryableError
from billbridge.connectors.stripe_api import StripeApi, StripeApiSource
from billbridge.engine.run import sync_flow
from billbridge.store import open_store
from billbridge.wiring import flows

from ._throttled import throttled_stripe
from ._webhooks import KEY, SECRET, webhook_workspace
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


def _customers_workspace(tmp_path: Path, base: str) -> Workspace:
    """A workspace whose Stripe connection reads customers only, from the server at `base`."""
    webhook_workspace(tmp_path / "ws", api_base=base)
    config = tmp_path / "ws" / "billbridge.yaml"
    config.write_text(config.read_text().replace(
        f"    api_base: {base}\n", f"    api_base: {base}\n    objects: [customers]\n"
    ))  # fmt: skip
    env = {"STRIPE_API_KEY": KEY, "STRIPE_WEBHOOK_SECRET": SECRET}
    return load_workspace(tmp_path / "ws", env=env)


def test_a_long_lived_source_gives_each_run_only_its_own_waits(tmp_path: Path) -> None:
    """The service builds a flow once and runs it many times: figures are per run."""
    with throttled_stripe(limit=1, customers=3) as (base, server):
        workspace = _customers_workspace(tmp_path, base)
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        try:
            with flows(workspace) as lookup:
                flow = lookup("stripe-to-books")
                first = sync_flow(flow, store)
                server.limit = 100
                second = sync_flow(flow, store)
            kept = store.run_figures(first.run), store.run_figures(second.run)
        finally:
            store.close()
    assert first.figures is not None and second.figures is not None
    assert (first.figures.throttled, second.figures.throttled) == (1, 0)
    assert second.figures.rate_limit_wait_seconds < 0.5 <= first.figures.rate_limit_wait_seconds
    assert first.figures.requests + second.figures.requests == server.requests
    assert kept[0] is not None and kept[1] is not None
    assert (kept[0].throttled, kept[1].throttled) == (1, 0)
    assert kept[1].requests == second.figures.requests


def test_a_finished_backfill_is_not_listed_again_by_the_next_sync(tmp_path: Path) -> None:
    """After everything was read, the next sync asks for events only (one request)."""
    with throttled_stripe(limit=100, customers=250) as (base, server):
        workspace = _customers_workspace(tmp_path, base)
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        try:
            with flows(workspace) as lookup:
                first = sync_flow(lookup("stripe-to-books"), store)
                after_first = server.requests
                second = sync_flow(lookup("stripe-to-books"), store)
        finally:
            store.close()
    assert first.counts["synced"] == 250
    assert after_first == 3 + 1  # three pages of customers, then the events
    assert server.requests - after_first == 1  # the events only
    assert second.counts["synced"] == 0
