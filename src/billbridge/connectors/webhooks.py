"""What a connector gives the webhook receiver: check a delivery, and say what it is about.

Why in the connector: every system signs its deliveries its own way (Stripe's
`Stripe-Signature`, BottleCRM's `X-BottleCRM-Signature`, both `t=…,v1=…` HMAC-SHA256
but over different headers and bodies) and names its events its own way. The receiver
(`service/webhooks.py`) is the same for all: it refuses what the connector's check
refuses, stores the event once in the inbox (by its id) before answering 2xx, and lets
the inbox drain run it down the record path (the source model's `parse_event`).

A connector's spec offers `webhook=(config) -> WebhookCheck`. The check raises
`WebhookRefused(status, message)` for a delivery that must not be stored: unsigned,
forged, signed too long ago or too far ahead (a replay, or a stamp made to outlive the
window), or not an event. The message goes back to the sender; it never holds a secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_TOLERANCE",
    "WebhookCheck",
    "WebhookEvent",
    "WebhookRefused",
    "check_hmac_signature",
]

DEFAULT_TOLERANCE: Final = 300  # seconds either way, as Stripe's own default


class WebhookRefused(Exception):  # noqa: N818 - a refusal to answer, not a program error
    """A delivery the receiver answers with `status` and does not store."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEvent:
    """One verified delivery: its event id (the dedupe), type, `object:id` and time (Unix s)."""

    event_id: str
    type: str
    object_key: str
    created: int


# (headers with lower-case names, raw body, now in Unix seconds) -> the event, or raises
WebhookCheck = Callable[[Mapping[str, str], bytes, float], WebhookEvent]


def check_hmac_signature(
    header: str | None, body: bytes, *, secret: str, now: float, tolerance: int, name: str
) -> int:
    """Check a `t=<unix>,v1=<hex>` signature of HMAC-SHA256(secret, "<t>." + body).

    Returns the signed time. Refuses (400) a missing or malformed header, a signature
    that matches no `v1`, and a time more than `tolerance` seconds before or after `now`.
    """
    if not header:
        raise WebhookRefused(400, f"no {name} header")
    stamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            stamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if stamp is None or not signatures:
        raise WebhookRefused(400, f"{name} is not `t=<unix time>,v1=<signature>`")
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise WebhookRefused(400, "signature rejected: it does not match the body")
    if stamp < now - tolerance:
        raise WebhookRefused(
            400, f"signature rejected: signed {int(now - stamp)} s ago, more than the "
            f"tolerance ({tolerance} s): a replay, or a delivery held back too long",
        )  # fmt: skip
    if stamp > now + tolerance:
        raise WebhookRefused(
            400, f"signature rejected: timestamp {stamp} is ahead of this server's clock by "
            f"more than the tolerance ({tolerance} s)",
        )  # fmt: skip
    return stamp
