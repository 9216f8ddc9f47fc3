"""The live Stripe connection: backfill, events, webhooks' raw material and write-back.

Why a package: the HTTP edge (pacing, retries, error translation), the source (cursor
per object type) and write-back are separate jobs with separate tests; each lives in
its own private module and this `__init__` re-exports what the rest of billbridge uses.
"""

from __future__ import annotations

from ._client import DEFAULT_API_VERSION, StripeApi, default_rate
from ._errors import scrub, translate
from ._ratelimit import RateLimiter, WaitStats
from ._records import StripeRecordTarget, customer_fields
from ._source import OBJECT_TYPES, StripeApiSource, default_objects
from ._writeback import METADATA_KEY, Pushed, StripeWriteBack, idempotency_key

__all__ = [
    "DEFAULT_API_VERSION",
    "METADATA_KEY",
    "OBJECT_TYPES",
    "Pushed",
    "RateLimiter",
    "StripeApi",
    "StripeApiSource",
    "StripeRecordTarget",
    "StripeWriteBack",
    "WaitStats",
    "customer_fields",
    "default_objects",
    "default_rate",
    "idempotency_key",
    "scrub",
    "translate",
]
