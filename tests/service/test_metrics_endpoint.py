"""`GET /metrics` on a real server: Prometheus can parse it and it agrees with the queue."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from billbridge.store.base import RunFigures

from .conftest import BACKENDS, Service

pytestmark = BACKENDS


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_parse_and_match_the_queue_and_postings(service: Service) -> None:
    response = service.api("viewer").get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)

    queue = service.api("viewer").get("/api/queue").json()
    flow = queue[0]["flow"]
    assert samples[("billbridge_queue_open", (("flow", flow),))] == len(queue)
    store = service.store()
    try:
        postings = sum(1 for _ in store.iter_postings(flow=flow))
    finally:
        store.close()
    assert samples[("billbridge_postings", (("flow", flow),))] == postings > 0


def test_metrics_need_a_token(service: Service) -> None:
    assert service.api().get("/metrics").status_code == 401


def test_metrics_show_rate_limit_waits_and_webhook_lag_from_the_store(service: Service) -> None:
    store = service.store()
    try:
        flow = store.list_runs(limit=1)[0].flow
        run = store.start_run(flow=flow, kind="live", actor="tester")
        store.finish_run(
            run.id, counts={}, status="finished",
            figures=RunFigures(requests=50, rate_limit_waits=7, rate_limit_wait_seconds=2.5,
                               throttled=3),
        )  # fmt: skip
        created = int(time.time()) - 30
        store.inbox_add(
            event_id="evt_metrics", connection="stripe", type="invoice.updated",
            object_key="stripe:invoice:in_x", created=created, payload=b"{}",
        )  # fmt: skip
        row = store.inbox_get("evt_metrics")
    finally:
        store.close()
    assert row is not None and row.received_at is not None
    samples = _samples(service.api("viewer").get("/metrics").text)
    label = (("flow", flow),)
    assert samples[("billbridge_rate_limit_waits_total", label)] == 7
    assert samples[("billbridge_rate_limit_wait_seconds_total", label)] == 2.5
    assert samples[("billbridge_throttled_responses_total", label)] == 3
    assert samples[("billbridge_source_requests_total", label)] == 50
    hooks = (("connection", "stripe"),)
    assert samples[("billbridge_webhook_lag_seconds", hooks)] == pytest.approx(
        row.received_at.timestamp() - created
    )
    assert samples[("billbridge_webhook_inbox_pending", hooks)] == 1
    assert samples[("billbridge_webhook_oldest_pending_age_seconds", hooks)] >= 0
