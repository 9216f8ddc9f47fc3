"""Rate-limit waits of a live Stripe source: in the run summary, the store, `status`,
`/metrics` and the `rate_limit_wait_percent` alert, against a server that throttles.

The server (tests/integration/stripe_live/_throttled.py) answers 429 with `Retry-After: 1`
above N requests a second, like Stripe. With N = 1 the first sync's second request is
throttled and waited out for a second, most of a run that does little else: the alert
fires once (to a real HTTP receiver). With the limit raised, the next sync waits for
nothing and the incident is resolved once. Expectations come from the server's own
counts and the store's plain row reads; the metrics go through prometheus_client's parser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.engine.metrics import render_metrics
from billbridge.store import open_store

from ..integration.stripe_live._throttled import throttled_stripe
from ..integration.stripe_live._webhooks import KEY, SECRET, webhook_workspace
from .alert_receiver import AlertReceiver, seen

FLOW = "stripe-to-books"
LIMIT_PERCENT = 20


def _workspace(root: Path, api_base: str, hook_port: int) -> None:
    webhook_workspace(root, api_base=api_base)
    config = root / "billbridge.yaml"
    text = config.read_text().replace(
        f"    api_base: {api_base}\n",
        f"    api_base: {api_base}\n    objects: [customers]\n    rate_limit: 100\n",
    )
    config.write_text(
        text
        + f"""
alerts:
  webhook: http://127.0.0.1:{hook_port}/hooks/billbridge
  rules:
    rate_limit_wait_percent: {LIMIT_PERCENT}
"""
    )


def _cli(root: Path, state_url: str, *args: str) -> tuple[int, Any]:
    env = {"BILLBRIDGE_STATE": state_url, "STRIPE_API_KEY": KEY, "STRIPE_WEBHOOK_SECRET": SECRET}
    result = CliRunner().invoke(app, ["-w", str(root), *args, "--json"], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, orjson.loads(result.stdout)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_waits_are_counted_shown_and_alerted_once(tmp_path: Path, state_url: str) -> None:
    root = tmp_path / "ws"
    with throttled_stripe(limit=1, customers=30) as (base, server), AlertReceiver() as hook:
        _workspace(root, base, hook.port)
        code, run = _cli(root, state_url, "sync")
        assert code == 0, run
        assert server.throttled == 1  # GET /v1/events came within the second of the list
        waits = run["rate_limit"]
        assert waits["throttled"] == server.throttled
        assert waits["requests"] == server.requests == 3  # list, events, events again
        assert waits["waits"] >= 1
        assert waits["wait_seconds"] >= 1.0  # Retry-After: 1 was honoured and counted
        assert run["source"]["backoff_seconds"] >= 1.0
        assert seen(hook.bodies) == [("firing", "rate_limit_wait_percent")]
        assert hook.bodies[0]["subject"] == FLOW
        assert "answered 429" in hook.bodies[0]["detail"]

        store = open_store(state_url)
        try:
            first = store.get_run(run["run"])
            kept = store.run_figures(run["run"])
            code, status = _cli(root, state_url, "status")
            samples = _samples(render_metrics(store, flows=[FLOW]).decode())
        finally:
            store.close()
        assert first is not None and first.finished_at is not None and kept is not None
        assert kept.throttled == waits["throttled"]
        assert kept.rate_limit_waits == waits["waits"]
        assert kept.rate_limit_wait_seconds == waits["wait_seconds"]
        duration = (first.finished_at - first.started_at).total_seconds()
        percent = 100 * kept.rate_limit_wait_seconds / duration
        assert percent > LIMIT_PERCENT

        figures = status["flows"][FLOW]["rate_limit"]
        assert figures["runs"] == 1
        assert (figures["waits"], figures["wait_seconds"], figures["throttled"]) == (
            kept.rate_limit_waits, kept.rate_limit_wait_seconds, kept.throttled,
        )  # fmt: skip
        assert figures["last_run"]["run"] == run["run"]
        assert figures["last_run"]["wait_percent"] == round(percent, 3)
        assert status["alerts_open"] == {"rate_limit_wait_percent": 1}
        label = (("flow", FLOW),)
        assert samples["billbridge_rate_limit_waits_total", label] == kept.rate_limit_waits
        assert (
            samples["billbridge_rate_limit_wait_seconds_total", label]
            == kept.rate_limit_wait_seconds
        )
        assert samples["billbridge_throttled_responses_total", label] == kept.throttled
        assert samples["billbridge_source_requests_total", label] == kept.requests
        assert samples["billbridge_last_run_duration_seconds", label] == duration
        ratio = samples["billbridge_last_run_rate_limit_wait_ratio", label]
        assert abs(ratio - percent / 100) < 1e-9

        assert _cli(root, state_url, "alerts", "check")[1]["fired"] == []  # once per incident
        server.limit = 100  # the account's limit is raised: nothing to wait for
        started = datetime.now(UTC)
        code, second = _cli(root, state_url, "sync")
        assert code == 0, second
        assert second["rate_limit"] == {
            "waits": 0, "wait_seconds": 0.0, "throttled": 0, "requests": server.requests - 3,
        }  # fmt: skip
        assert seen(hook.bodies) == [
            ("firing", "rate_limit_wait_percent"),
            ("resolved", "rate_limit_wait_percent"),
        ]
        assert datetime.fromisoformat(hook.bodies[1]["resolved_at"]) >= started
        code, status = _cli(root, state_url, "status")
    after = status["flows"][FLOW]["rate_limit"]
    assert after["runs"] == 2
    assert after["requests"] == server.requests  # the counters only grow
    assert after["throttled"] == 1
    assert after["last_run"]["run"] == second["run"]
    assert after["last_run"]["wait_percent"] == 0.0
    assert status["alerts_open"] == {}
