"""BottleCRM's signed webhooks: `X-BottleCRM-Signature: t=<unix>,v1=<hex>`.

`v1 = HMAC-SHA256(webhook_secret, "<t>." + raw body)`, the body `{"id", "event",
"created_at", "org_id", "data"}` (the recipe's section 5). The event id is the dedupe: a
delivery sent twice is stored once. Events about objects billbridge does not read (tasks,
tickets, leads) are still verified, then answered and not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from billbridge.connectors.webhooks import (
    DEFAULT_TOLERANCE,
    WebhookCheck,
    WebhookEvent,
    WebhookRefused,
    check_hmac_signature,
)

from ._shapes import OBJECT_OF

__all__ = ["SIGNATURE_HEADER", "crm_webhook_check"]

SIGNATURE_HEADER = "x-bottlecrm-signature"


def _event(body: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise WebhookRefused(400, "the body is not JSON") from None
    if type(event) is not dict:
        raise WebhookRefused(400, "the body is not a JSON object")
    for name in ("id", "event", "created_at"):
        if type(event.get(name)) is not str or not event[name]:
            raise WebhookRefused(400, f"the event has no `{name}`")
    data = event.get("data")
    if type(data) is not dict or type(data.get("id")) is not str or not data["id"]:
        raise WebhookRefused(400, "the event's `data` has no `id`")
    return event


def crm_webhook_check(secret: str, *, tolerance: int = DEFAULT_TOLERANCE) -> WebhookCheck:
    """The check of one CRM connection's deliveries (its webhook secret)."""

    def check(headers: Mapping[str, str], body: bytes, now: float) -> WebhookEvent:
        check_hmac_signature(
            headers.get(SIGNATURE_HEADER), body, secret=secret, now=now, tolerance=tolerance,
            name="X-BottleCRM-Signature",
        )  # fmt: skip
        event = _event(body)
        prefix = str(event["event"]).partition(".")[0]
        kind = OBJECT_OF.get(prefix, "")
        try:
            created = int(datetime.fromisoformat(event["created_at"]).timestamp())
        except ValueError:
            raise WebhookRefused(400, "the event's `created_at` is not a time") from None
        return WebhookEvent(
            event_id=event["id"],
            type=str(event["event"]),
            object_key=f"{kind}:{event['data']['id']}" if kind else "",
            created=created,
        )

    return check
