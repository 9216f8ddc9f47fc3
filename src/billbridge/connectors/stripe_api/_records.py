"""Stripe as a system that keeps records: customers, and subscriptions from won deals.

Why on top of the write-back: the write-back already knows Stripe's customer fields, its
metadata tag (`billbridge_key`, our record key) and how to find a customer by it when an
answer was lost; a record flow (`connectors/records.py`) only adds the canonical object's
fields and the read-back.

A canonical **deal** that is won and names a plan becomes a **subscription** of the
deal's customer (its Stripe id comes through the engine's `xref`: the customer must be
written first) to that plan, tagged with our key; a plan changed on the deal changes the
subscription's item. Stripe then creates and charges its invoices, which the Stripe
source reads like any other. Other canonical objects are not written to Stripe: their
`fields` are None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billbridge.domain import Canonical, Customer, Deal

from ..base import RecordError, RetryableError
from ..records import Held, MissingReference, Xref, field_differences
from ._client import StripeApi
from ._writeback import METADATA_KEY, StripeWriteBack

__all__ = ["StripeRecordTarget", "customer_fields", "subscription_fields"]


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


def subscription_fields(value: Deal, customer: str) -> dict[str, Any]:
    return {"customer": customer, "plan": value.plan}


def _subscription(data: Mapping[str, Any]) -> dict[str, Any]:
    """A subscription as the fields billbridge compares (both API shapes)."""
    items = data.get("items")
    listed = items.get("data") if isinstance(items, Mapping) else None
    first = listed[0] if isinstance(listed, list) and listed else {}
    plan = first.get("plan") or first.get("price") or data.get("plan") or {}
    return {
        "customer": data.get("customer"),
        "plan": plan.get("id") if isinstance(plan, Mapping) else plan,
        "item": first.get("id"),
        "status": data.get("status"),
        "metadata": data.get("metadata") or {},
    }


class StripeRecordTarget:
    """Customers and subscriptions in one Stripe account (live API; paced, translated)."""

    def __init__(self, name: str, api: StripeApi) -> None:
        self.name = name
        self.api = api
        self._push = StripeWriteBack(api)

    def fields(self, value: Canonical, *, record_key: str) -> Mapping[str, Any] | None:
        return customer_fields(value) if isinstance(value, Customer) else None

    def fields_linked(
        self, value: Canonical, *, record_key: str, xref: Xref
    ) -> Mapping[str, Any] | None:
        if isinstance(value, Customer):
            return customer_fields(value)
        if isinstance(value, Deal):
            if not value.won or not value.plan:
                return None  # nothing to bill (yet): an open or lost deal, or no plan
            customer = xref("customer", value.customer)
            if customer is None:
                raise MissingReference("customer", value.customer)
            return subscription_fields(value, customer)
        return None

    def origin(self, object: str, held: Held) -> str | None:
        meta = held.fields.get("metadata")
        key = meta.get(METADATA_KEY) if isinstance(meta, Mapping) else None
        return str(key) if key else None

    def find(self, object: str, record_key: str, fields: Mapping[str, Any]) -> Held | None:
        if object == "deal":
            return self._find_subscription(record_key, str(fields.get("customer") or ""))
        found = self._push.find_customer(record_key, email=fields.get("email"))
        return None if found is None else Held(id=str(found["id"]), fields=found)

    def _find_subscription(self, record_key: str, customer: str) -> Held | None:
        if not customer:
            return None
        page = self.api.get("/v1/subscriptions", {"customer": customer, "status": "all"})
        for item in page.get("data") or []:
            meta = item.get("metadata") or {}
            if isinstance(meta, Mapping) and meta.get(METADATA_KEY) == record_key:
                return Held(id=str(item["id"]), fields=_subscription(item))
        return None

    def create(
        self, object: str, record_key: str, fields: Mapping[str, Any], *, idempotency_key: str
    ) -> Held:
        if object == "deal":
            params = {
                "customer": fields["customer"],
                "items": [{"plan": fields["plan"]}],
                "metadata": {METADATA_KEY: record_key},
            }
            try:
                data = self.api.post("/v1/subscriptions", params, idempotency_key=idempotency_key)
            except RetryableError:
                found = self._find_subscription(record_key, str(fields["customer"]))
                if found is None:
                    raise
                return found
            return Held(id=str(data["id"]), fields=_subscription(data))
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
        if object == "deal":
            now = self._read_subscription(id)
            if now is None:
                raise RecordError(f"subscription {id} is gone from {self.name}")
            params: dict[str, Any] = {}
            if now.fields.get("plan") != fields["plan"]:
                params["items"] = [{"id": now.fields["item"], "plan": fields["plan"]}]
            if (now.fields.get("metadata") or {}).get(METADATA_KEY) != record_key:
                params["metadata"] = {METADATA_KEY: record_key}
            if not params:
                return now
            data = self.api.post(f"/v1/subscriptions/{id}", params, idempotency_key=idempotency_key)
            return Held(id=id, fields=_subscription(data))
        done = self._push.push_customer(
            record_key=record_key, version=_version(idempotency_key), fields=fields,
            stripe_id=id, idempotency_key=idempotency_key,
        )  # fmt: skip
        return Held(id=done.id, fields=done.data)

    def _read_subscription(self, id: str) -> Held | None:
        data = self.api.get(f"/v1/subscriptions/{id}")
        if data.get("status") in ("canceled", "incomplete_expired"):
            return None
        return Held(id=id, fields=_subscription(data))

    def read(self, object: str, id: str) -> Held | None:
        if object == "deal":
            return self._read_subscription(id)
        try:
            data = self.api.get(f"/v1/customers/{id}")
        except RecordError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        if data.get("deleted") is True:
            return None
        return Held(id=id, fields=data)

    def differences(self, asked: Mapping[str, Any], held: Mapping[str, Any]) -> tuple[str, ...]:
        differ = field_differences({k: v for k, v in asked.items() if k != "metadata"}, held)
        meta = held.get("metadata")
        # An object that lost our tag would be created again by the next look-up.
        if not isinstance(meta, Mapping) or not meta.get(METADATA_KEY):
            differ += (f"metadata.{METADATA_KEY}",)
        return differ

    def close(self) -> None:
        return None


def _version(idempotency_key: str) -> str:
    """The write's number (`…|record-N`), kept in the customer's metadata as its version."""
    return idempotency_key.rsplit("|", 1)[-1]
