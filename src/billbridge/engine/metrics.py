"""The workspace's figures in Prometheus text format, for the service's `GET /metrics`.

Why a fresh `CollectorRegistry` per call: the numbers live in the state store (shared
by workers on several machines), not in this process, so each scrape reads them anew
and renders them with prometheus_client's own `generate_latest`; no process-global
metric can drift from the store. The service mounts `render_metrics` as-is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from billbridge.store.base import Store

from .status import Status, workspace_status

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
    return generate_latest(registry)


def render_metrics(
    store: Store, *, flows: Iterable[str] = (), now: datetime | None = None
) -> bytes:
    """What `GET /metrics` returns (serve it with `CONTENT_TYPE`)."""
    return metrics_text(workspace_status(store, flows=flows, now=now))
