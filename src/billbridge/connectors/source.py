"""What a source brings besides reading: how its raw records become canonical objects.

Why the connector brings it and not the engine: the engine runs any pair of systems, so
it knows no system's field names. A source's spec hands it a `SourceModel`:

- `normalize(data, *, record, resolve) -> Normalized`: one raw record (as `read` gave it)
  into a canonical domain object (`billbridge.domain.Canonical`), problems naming the
  field, or a wait for a related record (`waiting_on`). It never raises for bad data.
  `resolve(object, id)` gives the raw data of a related record the engine holds.
- `lookups[object](data) -> ["object:id", …]`: the related records normalizing `data`
  will resolve, so the engine fetches a batch's look-ups in one query (a hint only).
- `aliases[object](data) -> ["object:id", …]`: extra keys the record is also found under
  (Stripe's `invoice_payment` under the payment it names).
- `describe(data) -> Described`: the few facts the engine reads of a raw record without
  normalizing it (an invoice's number for a payment's narration, when it was created
  for `sync --since`, whether it is a draft).
- `parse_event(payload) -> RawRecord`: the record a stored webhook event carries.
- `checks`: reconcile checks only this source can make (Stripe: a payout against the
  balance transactions it pays out), as `SourceFinding`s over the records read now.
- `subjects(data) -> ["object:id", …]`: the people (data subjects) whose personal data
  the record carries (an invoice names its customer), for GDPR erasure.
- `redact(data, subjects) -> data`: the record with the personal data of those subjects
  replaced by pseudonyms; amounts, numbers, dates and tax data stay (engine/erase.py).

billbridge's own Stripe model is `billbridge.formats.stripe.SOURCE_MODEL`; a plugin's
spec gives its own (`ConnectorSpec(source_model=…)`), and `billbridge.testing`'s
`SourceConformance` checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from billbridge.domain import Canonical, Problem, RecordWords

from .base import RawRecord

__all__ = [
    "Describe",
    "Described",
    "KeysOf",
    "Lifecycle",
    "Normalize",
    "Normalized",
    "NormalizedLike",
    "ParseEvent",
    "Redact",
    "Resolve",
    "SourceCheck",
    "SourceFinding",
    "SourceModel",
    "Words",
]


class Resolve(Protocol):
    """The raw data of a related record the engine holds, or None when it holds none."""

    def __call__(self, object: str, id: str, /) -> Mapping[str, Any] | None: ...


class Words(Protocol):
    """(object, id, snapshot or None, resolve) → the record in a person's words; never raises.

    Lenient where the normalizer is strict: the words label records that failed too (an
    unknown currency, a missing field), so whatever can be read is shown.
    """

    def __call__(
        self, obj: str, ident: str, data: Mapping[str, Any] | None, resolve: Resolve, /
    ) -> RecordWords: ...


class NormalizedLike(Protocol):
    """What a normalizer returns (`Normalized` below, or any object shaped like it)."""

    @property
    def value(self) -> Canonical | None: ...
    @property
    def problems(self) -> tuple[Problem, ...]: ...
    @property
    def waiting_on(self) -> tuple[str, str] | None: ...
    @property
    def reason(self) -> str: ...


Normalize = Callable[..., NormalizedLike]  # (data, *, record: str, resolve: Resolve)
KeysOf = Callable[[Mapping[str, Any]], list[str]]  # raw data -> ["object:id", …]


@dataclass(frozen=True, slots=True, kw_only=True)
class Normalized:
    """One raw record read into the domain.

    `value` None with no problems: nothing to post (a reference record). A record with an
    error problem has no value. `waiting_on` = (object, id) this record needs first: the
    engine holds it, with `reason`, and tries again when that record posts.
    """

    value: Canonical | None
    problems: tuple[Problem, ...] = ()
    waiting_on: tuple[str, str] | None = None
    reason: str = ""


class Described(NamedTuple):
    """What the engine may know of a raw record without normalizing it.

    `number`: a document's number ("" when it has none). `created`: when the source
    made it (zoned), for `sync --since`; None when unknown (the record is kept).
    `status`: the source's word for the document's state ("draft" is the one the engine
    reads: a draft claims no number).
    """

    number: str = ""
    created: datetime | None = None
    status: str = ""


Describe = Callable[[Mapping[str, Any]], Described]
ParseEvent = Callable[[bytes], RawRecord]
Lifecycle = Callable[[Mapping[str, Any]], tuple[int, ...] | None]  # raw object -> its stage
Redact = Callable[[Mapping[str, Any], frozenset[str]], Mapping[str, Any]]  # (data, subjects)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFinding:
    """A discrepancy only the source can see (amounts in minor units of `currency`).

    Reconcile reports it like its own: kind, the record, both values, the fix (`queue`
    for a person, `none` for information only), keyed `flow|record_key|facet`.
    """

    kind: str
    record_key: str
    facet: str
    source_value: str
    target_value: str
    detail: str
    hint: str
    difference: int | None = None
    currency: str = ""
    fix: str = "queue"


SourceCheck = Callable[[str, Sequence[RawRecord]], Iterable[SourceFinding]]  # (connection, read)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceModel:
    """Everything the engine needs to run a source's records; see the module docstring.

    `describe` None: the engine normalizes the record and reads the canonical object's
    `number`, `created` and `status` (fine for most sources; Stripe's is cheaper).
    `parse_event` None: the source takes no webhook events.
    `lifecycle` None: two webhook events about one object stamped with the same time are
    applied in arrival order; else it says how far along its life an object is (a tuple
    that never decreases, or None when unknown), and the one behind is marked stale.
    `subjects`/`redact` None: the source holds no personal data billbridge can erase
    field by field (an erasure then refuses its records rather than guess).

    Records are keyed `connection:object:id`, and canonical objects name related records
    by kind: a source files its invoices under the object `invoice` (a payment waits for
    `<connection>:invoice:<id>` to post), credit notes under `credit_note`, and its
    payments under `payment_object` (a refund waits for its payment; Stripe's are
    `charge`).
    """

    normalize: Normalize
    lookups: Mapping[str, KeysOf] = field(default_factory=dict)
    aliases: Mapping[str, KeysOf] = field(default_factory=dict)
    describe: Describe | None = None
    parse_event: ParseEvent | None = None
    checks: tuple[SourceCheck, ...] = ()
    payment_object: str = "payment"
    lifecycle: Lifecycle | None = None
    # Links a record of this type brings (a payment's handle, when a later record says
    # which invoice it paid): the records whose entries carry one of them are run again
    # in the same batch, so a link that arrives after its payment still posts its effect.
    revisits: Mapping[str, KeysOf] = field(default_factory=dict)
    # How a record reads to a person (number, counterparty, amount, date) in the queue,
    # trace, audit, alerts and reports; None: named by its object and id.
    words: Words | None = None
    subjects: KeysOf | None = None
    redact: Redact | None = None
