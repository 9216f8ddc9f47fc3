"""One Stripe connection's HTTP edge: the official SDK, paced, retried, translated.

Why the SDK's raw request path and not its resource classes: the source hands the
engine plain JSON (the exact bytes are hashed into the record's version), and building
SDK objects only to turn them back into dicts costs more than the request parsing
(bench/stripe_api.py measures both). The SDK still does what it is good at: auth,
the pinned `Stripe-Version` header, idempotency keys, request ids and typed errors.

Retries: the SDK's own network retries are off (`max_network_retries=0`) so that every
wait is ours to pace and count. A 429 is retried here, after `Retry-After` when Stripe
sends it, unless `Stripe-Should-Retry: false`; a GET that failed on the network or with
a 5xx is retried too (reading twice is harmless). A POST is never retried here: whether
it landed is the caller's question (see `_writeback.py`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
import stripe

from ..base import RetryableError
from ._errors import translate
from ._ratelimit import RateLimiter, WaitStats

__all__ = ["DEFAULT_API_VERSION", "StripeApi", "default_rate"]

DEFAULT_API_VERSION: Final = "2017-08-15"
"""The API version pinned when the connection names none: the oldest shape billbridge
reads, and the one localstripe answers in. Set `api_version:` to your account's."""

_TEST_RATE: Final = 25.0
_LIVE_RATE: Final = 100.0


def default_rate(api_key: str) -> float:
    """Stripe's documented limits: 25 read req/s in test mode, 100 in live mode."""
    return _TEST_RATE if "_test_" in api_key else _LIVE_RATE


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class StripeApi:
    """GET and POST JSON against one Stripe account (or localstripe at `api_base`)."""

    def __init__(
        self,
        *,
        api_key: str,
        api_version: str = DEFAULT_API_VERSION,
        api_base: str | None = None,
        rate: float | None = None,
        timeout: float = 30.0,
        attempts: int = 8,
        max_backoff: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        bases: Any = {"api": api_base.rstrip("/")} if api_base else {}
        self.api_version = api_version
        self._client = stripe.StripeClient(
            api_key,
            stripe_version=api_version,
            base_addresses=bases,
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self.limiter = RateLimiter(rate or default_rate(api_key), sleep=sleep)
        self.attempts = attempts
        self.max_backoff = max_backoff
        self._rng = rng or random.Random()

    @property
    def stats(self) -> WaitStats:
        return self.limiter.stats

    def _backoff(self, attempt: int, exc: stripe.StripeError) -> float:
        after = _header(exc.headers, "retry-after")
        if after is not None:
            try:
                return float(min(float(after), 60.0))
            except ValueError:
                pass
        base = min(self.max_backoff, 0.25 * float(2**attempt))
        return base / 2 + self._rng.uniform(0, base / 2)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON object; 429s, network errors and 5xx retried with backoff."""
        what = f"GET {path}"
        for attempt in range(self.attempts):
            self.limiter.acquire()
            try:
                response = self._client.raw_request("get", path, **dict(params or {}))
            except stripe.RateLimitError as exc:
                if _header(exc.headers, "stripe-should-retry") == "false":
                    raise translate(exc, what) from None
                if attempt + 1 < self.attempts:
                    self.limiter.backoff(self._backoff(attempt, exc))
                    continue
                raise translate(exc, what) from None
            except stripe.StripeError as exc:
                error = translate(exc, what)
                should = _header(exc.headers, "stripe-should-retry")
                retry = isinstance(error, RetryableError) and should != "false"
                if retry and attempt + 1 < self.attempts:
                    self.limiter.error_backoff(self._backoff(attempt, exc))
                    continue
                raise error from None
            return _json(response.body)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def post(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """POST once (paced; a 429 is retried, it never reached Stripe's handlers)."""
        what = f"POST {path}"
        options: dict[str, Any] = {}
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        for attempt in range(self.attempts):
            self.limiter.acquire()
            try:
                response = self._client.raw_request("post", path, **dict(params), **options)
            except stripe.RateLimitError as exc:
                if attempt + 1 < self.attempts and (
                    _header(exc.headers, "stripe-should-retry") != "false"
                ):
                    self.limiter.backoff(self._backoff(attempt, exc))
                    continue
                raise translate(exc, what) from None
            except stripe.StripeError as exc:
                raise translate(exc, what) from None
            return _json(response.body)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _json(body: str | bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    if type(data) is not dict:
        raise RetryableError(f"Stripe answered a JSON {type(data).__name__}, not an object")
    return data
