"""Stripe SDK errors translated at the edge into the connector's three kinds.

    stripe.StripeError
    ├── APIConnectionError, APIError (5xx), 409 lock_timeout  → RetryableError
    ├── RateLimitError (429)          → retried in the client, then RetryableError
    ├── AuthenticationError (401), PermissionError (403) → FatalError (the whole run)
    └── any other 4xx (InvalidRequestError, CardError, …) → RecordError

The message keeps what a person needs to act (Stripe's message, code, request id,
HTTP status) and never the API key: Stripe masks keys in its own messages, and we
scrub anything key-shaped again, since messages end up in the queue and the audit log.
"""

from __future__ import annotations

import re

import stripe

from ..base import ConnectorError, FatalError, RecordError, RetryableError

__all__ = ["scrub", "translate"]

_KEY = re.compile(r"\b(?:sk|rk|pk|whsec)_[A-Za-z0-9_*]+")


def scrub(text: str) -> str:
    """Text with anything shaped like a Stripe key or webhook secret masked."""
    return _KEY.sub("<redacted>", text)


def describe(exc: stripe.StripeError, what: str) -> str:
    parts = [f"Stripe {what}: {exc.user_message or exc.__class__.__name__}"]
    details = []
    if exc.http_status:
        details.append(f"HTTP {exc.http_status}")
    if exc.code:
        details.append(f"code {exc.code}")
    if exc.request_id:
        details.append(f"request {exc.request_id}")
    if details:
        parts.append(f" ({', '.join(details)})")
    return scrub("".join(parts))


def translate(exc: stripe.StripeError, what: str) -> ConnectorError:
    """The connector error for a Stripe SDK error, with a message safe to store."""
    message = describe(exc, what)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return FatalError(f"{message}; check `api_key` of the connection")
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return RetryableError(message)
    status = exc.http_status or 0
    if status >= 500 or status == 0 or (status == 409 and exc.code == "lock_timeout"):
        return RetryableError(message)
    return RecordError(message)
