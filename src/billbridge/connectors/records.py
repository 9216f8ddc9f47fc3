"""The record-target protocol: a system that keeps records (a CRM, Stripe's customers).

Why a protocol of its own and not `TargetConnector`: a ledger takes journal entries and
appends them; a system of records keeps one current copy of each object, found by an
id it gives, changed in place. A **record flow** (canonical objects → such a system)
shares everything else with a ledger flow: outcomes, the queue, retry and replay, the
audit log and trace. The engine (engine/records.py) does, for each canonical object:

```
fields(value)            the target's fields for it (pure); None: it keeps no such object
same as last written?    → nothing is sent (the store knows what it wrote, by content hash)
find(object, our key)    look up before create, always when the store knows no id yet:
                         a write whose commit was lost (a kill -9) is found, not repeated
create / update          with the engine's idempotency key
read + differences       read back and verify: a field the system did not keep as asked
                         fails the record, naming the field
```

Our record key (`connection:object:id` of the source record) is what `find` looks for:
the target stores it with the object (Stripe: `metadata.billbridge_key`; a CRM: an
external-id field). Errors are raised as the connector kinds in `base`: `RetryableError`
(429, 5xx, timeouts), `RecordError` (the system refused this record; its message
names the field), `FatalError` (bad credentials: stop the run).

A two-way sync (CRM ↔ Stripe) is two record flows; each side's connector implements
this protocol for the objects it keeps (engine/twoway.py). Two optional protocols serve it:

- `LinkedTarget.fields_linked(value, *, record_key, xref)`: for an object that names
  another record (a deal its account, an invoice its customer), `xref(object, id)`
  gives that record's id in this target (or None: raise `MissingReference`, and the
  record waits until the one it names is written);
- `OriginTarget.origin(held)`: the record key billbridge stamped into an object it
  wrote (Stripe's `metadata.billbridge_key`, a CRM's key custom field), so the other
  direction of a two-way pair recognises its own writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from billbridge.domain import Canonical

from .base import ConnectorError

Xref = Callable[[str, str], str | None]  # (object, id in the source) -> id in the target

__all__ = [
    "Held",
    "LinkedTarget",
    "MissingReference",
    "OriginTarget",
    "RecordTarget",
    "Xref",
    "field_differences",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Held:
    """One object as the target system holds it: its id there, and its fields."""

    id: str
    fields: Mapping[str, Any] = field(default_factory=dict)


class RecordTarget(Protocol):
    name: str

    def fields(self, value: Canonical, *, record_key: str) -> Mapping[str, Any] | None:
        """The target's fields for one canonical object (pure: no I/O).

        None when the target keeps no such object (a CRM takes customers, not refunds):
        the record is then synced with nothing written. Raise `RecordError` when the
        object cannot be written as it is (a required field missing), naming the field.
        """
        ...

    def find(self, object: str, record_key: str, fields: Mapping[str, Any]) -> Held | None:
        """The object that carries our `record_key`, if the system holds one.

        `fields` are what is about to be written (a system without a search by external
        id may narrow its listing by them, e.g. by email); the answer must not depend
        on them: a match is decided by the record key alone.
        """
        ...

    def create(
        self, object: str, record_key: str, fields: Mapping[str, Any], *, idempotency_key: str
    ) -> Held:
        """Create the object, carrying `record_key` so `find` sees it from then on."""
        ...

    def update(
        self,
        object: str,
        id: str,
        record_key: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str,
    ) -> Held:
        """Set `fields` on the object `id` (fields not named are left as they are)."""
        ...

    def read(self, object: str, id: str) -> Held | None:
        """The object `id` as the system holds it now (None: it is gone)."""
        ...

    def differences(self, asked: Mapping[str, Any], held: Mapping[str, Any]) -> tuple[str, ...]:
        """The asked fields the held object does not carry as asked (read-back check).

        `field_differences` is the plain answer; a system that normalizes values (lower-
        cases emails, formats phones) compares in its own terms here.
        """
        ...

    def close(self) -> None: ...


class MissingReference(ConnectorError):  # noqa: N818 - a wait, not a failure
    """The object names a record the target does not hold yet (`object`, source `id`)."""

    def __init__(self, object: str, id: str, message: str = "") -> None:
        super().__init__(message or f"waiting for {object} {id} to be written first")
        self.object = object
        self.id = id


@runtime_checkable
class LinkedTarget(Protocol):
    def fields_linked(
        self, value: Canonical, *, record_key: str, xref: Xref
    ) -> Mapping[str, Any] | None:
        """`fields`, for a value that names other records: their ids here via `xref`."""
        ...


@runtime_checkable
class OriginTarget(Protocol):
    def origin(self, object: str, held: Held) -> str | None:
        """The record key billbridge stamped into `held` when it wrote it, if any."""
        ...


def field_differences(asked: Mapping[str, Any], held: Mapping[str, Any]) -> tuple[str, ...]:
    """Names (dotted for nested objects) of the asked values `held` lacks or differs in."""
    found: list[str] = []
    for name, want in asked.items():
        have = held.get(name)
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            found += [f"{name}.{sub}" for sub in field_differences(want, have)]
        elif want != have:
            found.append(name)
    return tuple(found)
