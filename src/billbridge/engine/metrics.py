"""The workspace's figures in Prometheus text format, for the service's `GET /metrics`.

Why a fresh `CollectorRegistry` per call: the numbers live in the state store (shared
by workers on several machines), not in this process, so each scrape reads them anew
and renders them with prometheus_client's own `generate_latest`; no process-global
metric can drift from the store. The service mounts `render_metrics` as-is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from .status import Status, StatusState, wait_percent, workspace_status

__all__ = ["CONTENT_TYPE", "metrics_text", "render_metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


def metrics_text(status: Status) -> bytes:
    """`status` as Prometheus exposition text (the same figures as `billbridge status`)."""
    registry = CollectorRegistry(auto_describe=False)

    def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
        return Gauge(name, doc, labels, registry=registry)

    records = gauge("billbridge_records", "Records by outcome, per flow.", ("flow", "outcome"))
    postings = gauge("billbridge_postings", "Entries posted to the target.", ("flow",))
    queue = gauge("billbridge_queue_open", "Open exception-queue rows.", ("flow",))
    oldest = gauge(
        "billbridge_queue_oldest_age_seconds", "Age of the oldest open queue row.", ("flow",)
    )
    retries = gauge("billbridge_queue_retries", "Retries so far of open queue rows.", ("flow",))
    attempts = gauge(
        "billbridge_attempts", "Attempt rows written, by outcome.", ("flow", "outcome")
    )
    discrepancies = gauge(
        "billbridge_discrepancies_open", "Open reconcile discrepancies.", ("flow", "kind")
    )
    last = gauge(
        "billbridge_last_success_timestamp_seconds",
        "When the flow's last sync run finished (Unix time).",
        ("flow",),
    )
    alerts = gauge("billbridge_alerts_open", "Open alert incidents.", ("rule",))
    if status.cleanup is not None:
        gauge(
            "billbridge_cleanup_minutes",
            "Estimated minutes a person needs to clear the open queue (by its causes).",
            (),
        ).set(status.cleanup.minutes)
    for name, f in status.flows.items():
        for outcome, n in f.records.items():
            records.labels(name, outcome).set(n)
        postings.labels(name).set(f.postings)
        queue.labels(name).set(f.queue_open)
        retries.labels(name).set(f.retries)
        if f.queue_oldest is not None:
            oldest.labels(name).set((status.at - f.queue_oldest).total_seconds())
        for outcome, n in f.attempts.items():
            attempts.labels(name, outcome).set(n)
        for kind, n in f.discrepancies.items():
            discrepancies.labels(name, kind).set(n)
        if f.last_success is not None:
            last.labels(name).set(f.last_success.timestamp())
    for rule, n in status.incidents_open.items():
        alerts.labels(rule).set(n)
    _last_run_gauges(status, gauge)
    _webhook_gauges(status, gauge)
    registry.register(_Totals(status))
    return generate_latest(registry)


def _last_run_gauges(status: Status, gauge: Callable[[str, str, tuple[str, ...]], Gauge]) -> None:
    duration = gauge(
        "billbridge_last_run_duration_seconds",
        "Wall time of the flow's last finished sync run (when its source counts waits).",
        ("flow",),
    )
    waited = gauge(
        "billbridge_last_run_rate_limit_wait_seconds",
        "Seconds the last finished sync run waited for the rate limit (paced and after 429s).",
        ("flow",),
    )
    ratio = gauge(
        "billbridge_last_run_rate_limit_wait_ratio",
        "Share (0..1) of the last finished sync run's wall time spent on rate-limit waits.",
        ("flow",),
    )
    for name, f in status.flows.items():
        cost = f.last_cost
        if cost is None:
            continue
        duration.labels(name).set(cost.duration_seconds)
        waited.labels(name).set(cost.figures.rate_limit_wait_seconds)
        percent = wait_percent(cost)
        if percent is not None:
            ratio.labels(name).set(percent / 100.0)


def _webhook_gauges(status: Status, gauge: Callable[[str, str, tuple[str, ...]], Gauge]) -> None:
    lag = gauge(
        "billbridge_webhook_lag_seconds",
        "For the event received last: when billbridge stored it minus Stripe's `created`.",
        ("connection",),
    )
    pending = gauge(
        "billbridge_webhook_inbox_pending",
        "Webhook events stored, not yet processed.",
        ("connection",),
    )
    oldest = gauge(
        "billbridge_webhook_oldest_pending_age_seconds",
        "How long the oldest unprocessed webhook event has been in the inbox.",
        ("connection",),
    )
    last = gauge(
        "billbridge_webhook_last_received_timestamp_seconds",
        "When the connection's last webhook event was received (Unix time).",
        ("connection",),
    )
    for name, w in status.webhooks.items():
        pending.labels(name).set(w.pending)
        if w.lag_seconds is not None:
            lag.labels(name).set(w.lag_seconds)
        if w.oldest_pending is not None:
            oldest.labels(name).set((status.at - w.oldest_pending).total_seconds())
        if w.last_received is not None:
            last.labels(name).set(w.last_received.timestamp())


class _Totals(Collector):
    """Counters (`_total`) from the store's sums: they only grow, as Prometheus expects."""

    def __init__(self, status: Status) -> None:
        self.status = status

    def collect(self) -> Iterator[CounterMetricFamily]:
        families = {
            "waits": CounterMetricFamily(
                "billbridge_rate_limit_waits",
                "Waits for the source's rate limit (client-side pacing and backoffs after 429).",
                labels=("flow",),
            ),
            "seconds": CounterMetricFamily(
                "billbridge_rate_limit_wait_seconds",
                "Seconds spent on rate-limit waits.",
                labels=("flow",),
            ),
            "throttled": CounterMetricFamily(
                "billbridge_throttled_responses",
                "HTTP 429 answers from the source.",
                labels=("flow",),
            ),
            "requests": CounterMetricFamily(
                "billbridge_source_requests", "Requests sent to the source.", labels=("flow",)
            ),
            "received": CounterMetricFamily(
                "billbridge_webhook_events_received",
                "Webhook events stored in the inbox.",
                labels=("connection",),
            ),
        }
        for name, f in sorted(self.status.flows.items()):
            if f.figures is None:
                continue
            families["waits"].add_metric((name,), f.figures.rate_limit_waits)
            families["seconds"].add_metric((name,), f.figures.rate_limit_wait_seconds)
            families["throttled"].add_metric((name,), f.figures.throttled)
            families["requests"].add_metric((name,), f.figures.requests)
        for name, w in sorted(self.status.webhooks.items()):
            families["received"].add_metric((name,), w.received)
        yield from families.values()


def render_metrics(
    store: StatusState, *, flows: Iterable[str] = (), now: datetime | None = None
) -> bytes:
    """What `GET /metrics` returns (serve it with `CONTENT_TYPE`)."""
    return metrics_text(workspace_status(store, flows=flows, now=now))
