"""`GET /metrics` on a real server: Prometheus can parse it and it agrees with the queue."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

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
