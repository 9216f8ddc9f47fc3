"""Stripe JSON → canonical domain values, for the API versions billbridge claims to read.

Why a package of its own: Stripe's shapes change between API versions (`tax_amounts` →
`taxes`, `tax` → `total_taxes`, `charge.invoice` → `invoice_payment`), and a field a
posting needs that vanishes must fail loudly, naming the field, instead of posting a
silent zero. Everything here is pure (look-ups go through the injected `Resolve`), so
the engine can call `normalize` tens of thousands of times a second.

Supported shapes: localstripe / 2017-08-15 and the current version (the objects in
shared/data/stripe-api-fixtures.json), plus the in-between `tax_amounts`/`price` shape.
"""

from __future__ import annotations

from ._control import CONTROL_ACCOUNTS, CONTROL_FIELDS, control_amount
from ._describe import words
from ._lifecycle import lifecycle
from ._lookups import LOOKUPS, REVISITS
from ._model import ALIASES, SOURCE_MODEL, describe, parse_event, payout_findings, payout_sums
from ._normalize import POSTABLE_OBJECTS, REFERENCE_OBJECTS, normalize
from ._types import Normalized, Resolve

__all__ = [
    "ALIASES",
    "CONTROL_ACCOUNTS",
    "CONTROL_FIELDS",
    "LOOKUPS",
    "POSTABLE_OBJECTS",
    "REFERENCE_OBJECTS",
    "REVISITS",
    "SOURCE_MODEL",
    "Normalized",
    "Resolve",
    "control_amount",
    "describe",
    "lifecycle",
    "normalize",
    "parse_event",
    "payout_findings",
    "payout_sums",
    "words",
]
