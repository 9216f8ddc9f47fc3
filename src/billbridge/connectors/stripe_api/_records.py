"""Stripe as a system that keeps records: canonical customers written to Stripe's customers.

Why on top of the write-back: the write-back already knows Stripe's customer fields, its
metadata tag (`billbridge_key`, our record key) and how to find a customer by it when an
answer was lost; a record flow (`connectors/records.py`) only adds the canonical object's
fields and the read-back. Other canonical objects (invoices, payments) are not written
to Stripe: `fields` answers None for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billbridge.domain import Canonical, Customer

from ..records import Held, field_differences
from ._client import StripeApi
from ._writeback import METADATA_KEY, StripeWriteBack

__all__ = ["StripeRecordTarget", "customer_fields"]


def customer_fields(value: Customer) -> dict[str, Any]:
    """A canonical customer as Stripe's customer fields (empty parts left out)."""
    fields: dict[str, Any] = {"name": value.name}
    if value.email:
        fields["email"] = value.email
    where = value.address
    address = {
        name: part
        for name, part in (
            ("line1", where.line1),
            ("line2", where.line2),
            ("city", where.city),
            ("postal_code", where.postal_code),
            ("state", where.region),
            ("country", where.country),
        )
        if part
    }
    if address:
        fields["address"] = address
    return fields


class StripeRecordTarget:
    """Customers in one Stripe account (live API; pinned version, paced, translated)."""

    def __init__(self, name: str, api: StripeApi) -> None:
        self.name = name
        self.api = api
        self._push = StripeWriteBack(api)

    def fields(self, value: Canonical, *, record_key: str) -> Mapping[str, Any] | None:
        return customer_fields(value) if isinstance(value, Customer) else None

    def find(self, object: str, record_key: str, fields: Mapping[str, Any]) -> Held | None:
        found = self._push.find_customer(record_key, email=fields.get("email"))
        return None if found is None else Held(id=str(found["id"]), fields=found)

    def create(
        self, object: str, record_key: str, fields: Mapping[str, Any], *, idempotency_key: str
    ) -> Held:
        done = self._push.push_customer(
            record_key=record_key, version=_version(idempotency_key), fields=fields,
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return Held(id=done.id, fields=done.data)

    def update(
        self,
        object: str,
        id: str,
        record_key: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str,
    ) -> Held:
        done = self._push.push_customer(
            record_key=record_key, version=_version(idempotency_key), fields=fields,
            stripe_id=id, idempotency_key=idempotency_key,
        )  # fmt: skip
        return Held(id=done.id, fields=done.data)

    def read(self, object: str, id: str) -> Held | None:
        data = self.api.get(f"/v1/customers/{id}")
        if data.get("deleted") is True:
            return None
        return Held(id=id, fields=data)

    def differences(self, asked: Mapping[str, Any], held: Mapping[str, Any]) -> tuple[str, ...]:
        differ = field_differences(asked, held)
        meta = held.get("metadata")
        # A customer that lost our tag would be created again by the next look-up.
        if not isinstance(meta, Mapping) or not meta.get(METADATA_KEY):
            differ += (f"metadata.{METADATA_KEY}",)
        return differ

    def close(self) -> None:
        return None


def _version(idempotency_key: str) -> str:
    """The write's number (`…|record-N`), kept in the customer's metadata as its version."""
    return idempotency_key.rsplit("|", 1)[-1]
