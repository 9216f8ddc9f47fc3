"""Webhook lag and the inbox's oldest pending event in `status` and `/metrics`.

Signed events go to a real receiver (uvicorn on loopback) that only stores them
(`process=False`, a deployment where workers drain the inbox), with Stripe `created`
times in the past, as when Stripe's deliveries lag. The lag of the newest event and the
pending figures must equal what the store's inbox rows say; after the inbox is drained,
nothing is pending and the lag stays that of the last event received.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.engine.inbox import process_inbox
from billbridge.engine.metrics import render_metrics
from billbridge.service.stripe_webhooks import create_webhook_app
from billbridge.store import open_store
from billbridge.wiring import flows

from ..integration.stripe_live._webhooks import (
    KEY,
    SECRET,
    event,
    serving,
    signature,
    webhook_workspace,
)

FLOW = "stripe-to-books"
CONNECTION = "stripe"


def _status(root: Path, state_url: str) -> dict[str, Any]:
    env = {"BILLBRIDGE_STATE": state_url, "STRIPE_API_KEY": KEY, "STRIPE_WEBHOOK_SECRET": SECRET}
    result = CliRunner().invoke(app, ["-w", str(root), "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = orjson.loads(result.stdout)
    return data


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_webhook_lag_and_pending_age_equal_the_inbox(tmp_path: Path, state_url: str) -> None:
    root = tmp_path / "ws"
    workspace = webhook_workspace(root)
    workspace = workspace.model_copy(update={"state": state_url})
    now = int(time.time())
    sent = [("evt_old", now - 600), ("evt_late", now - 40)]  # delivered late by Stripe
    app_ = create_webhook_app(workspace, flow=FLOW, process=False)
    headers = {"Content-Type": "application/json"}
    with serving(app_) as url, httpx.Client(base_url=url, timeout=10) as http:
        for n, (ident, created) in enumerate(sent):
            customer = {"object": "customer", "id": f"cus_lag{n}", "created": created}
            payload = event(customer, type="customer.updated", created=created, ident=ident)
            answer = http.post(
                "/webhooks/stripe",
                content=payload,
                headers={**headers, "Stripe-Signature": signature(payload)},
            )
            assert answer.status_code == 200, answer.text

    store = open_store(state_url)
    try:
        rows = {ident: store.inbox_get(ident) for ident, _ in sent}
        status = _status(root, state_url)
        samples = _samples(render_metrics(store, flows=[FLOW]).decode())
    finally:
        store.close()
    old, late = rows["evt_old"], rows["evt_late"]
    assert old is not None and late is not None
    assert old.received_at is not None and late.received_at is not None
    assert (old.status, late.status) == ("pending", "pending")
    lag = late.received_at.timestamp() - late.created  # the newest event's lag
    assert 40 <= lag < 100

    hooks = status["webhooks"][CONNECTION]
    assert (hooks["received"], hooks["pending"]) == (2, 2)
    assert hooks["lag_seconds"] == round(lag, 3)
    assert datetime.fromisoformat(hooks["last_received"]) == late.received_at
    at = datetime.fromisoformat(status["at"])
    assert hooks["oldest_pending_age_seconds"] == round((at - old.received_at).total_seconds(), 3)

    label = (("connection", CONNECTION),)
    assert abs(samples["billbridge_webhook_lag_seconds", label] - lag) < 1e-6
    assert samples["billbridge_webhook_inbox_pending", label] == 2
    assert samples["billbridge_webhook_events_received_total", label] == 2
    oldest = samples["billbridge_webhook_oldest_pending_age_seconds", label]
    assert 0 <= oldest <= (datetime.now(UTC) - old.received_at).total_seconds()
    last = samples["billbridge_webhook_last_received_timestamp_seconds", label]
    assert last == late.received_at.timestamp()

    store = open_store(state_url)
    try:
        with flows(workspace) as lookup:
            drained = process_inbox(lookup(FLOW), store)
        samples = _samples(render_metrics(store, flows=[FLOW]).decode())
    finally:
        store.close()
    assert sorted(drained.processed) == ["evt_late", "evt_old"]
    hooks = _status(root, state_url)["webhooks"][CONNECTION]
    assert (hooks["pending"], hooks["oldest_pending_age_seconds"]) == (0, None)
    assert hooks["lag_seconds"] == round(lag, 3)
    assert samples["billbridge_webhook_inbox_pending", label] == 0
    assert ("billbridge_webhook_oldest_pending_age_seconds", label) not in samples
