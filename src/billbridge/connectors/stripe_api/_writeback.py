"""Write-back to Stripe: push customers, mark invoices paid out of band, void invoices.

Why look-up before retry: a POST whose connection dropped after Stripe received it is
ambiguous: the customer may exist or not. Retrying blindly creates a duplicate whenever
the idempotency key is not honoured (expired after 24 h, or an emulator without it), so
an ambiguous create is resolved by looking the object up by our record key in its
metadata (`billbridge_key`) first, and only if it is not there is it sent again, with the
same idempotency key. Invoice actions are resolved by reading the invoice's status.

Idempotency keys are derived from the record key and its version: the same version of
the same record always sends the same key, a new version a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from ..base import RecordError, RetryableError, WriteBackResult
from ._client import StripeApi

__all__ = ["METADATA_KEY", "VERSION_KEY", "Pushed", "StripeWriteBack", "idempotency_key"]

METADATA_KEY: Final = "billbridge_key"
VERSION_KEY: Final = "billbridge_version"
_CUSTOMER_FIELDS: Final = frozenset(
    {
        "name",
        "email",
        "phone",
        "description",
        "address",
        "preferred_locales",
        "tax_exempt",
        "metadata",
        "tax_id_data",
    }
)


def idempotency_key(record_key: str, version: str, action: str) -> str:
    digest = hashlib.blake2b(f"{record_key}|{version}|{action}".encode(), digest_size=16)
    return f"billbridge-{action}-{digest.hexdigest()}"


Pushed = WriteBackResult
"""What a write did (the connectors' `WriteBackResult`; the old name is kept)."""


class StripeWriteBack:
    """Writes one record at a time; every error is a connector error (never the key).

    Each write takes the engine's `idempotency_key` when given, else derives one from the
    record key, its version and the action.
    """

    def __init__(self, api: StripeApi) -> None:
        self.api = api

    # ------------------------------------------------------------------ customers
    def push_customer(
        self,
        *,
        record_key: str,
        version: str,
        fields: Mapping[str, Any],
        stripe_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Pushed:
        """Create the customer (or update `stripe_id`), tagged with our record key.

        `metadata` is kept, with our key and version added; `tax_id_data` is sent with a
        create, and on an update the tax ids the customer lacks are added one by one.
        """
        unknown = set(fields) - _CUSTOMER_FIELDS
        if unknown:
            raise RecordError(f"customer fields {sorted(unknown)} cannot be written to Stripe")
        meta = dict(fields.get("metadata") or {})
        params = {
            **fields,
            "metadata": {**meta, METADATA_KEY: record_key, VERSION_KEY: version},
        }
        if stripe_id:
            tax_ids = params.pop("tax_id_data", None) or []
            key = idempotency_key or _key(record_key, version, "update")
            data = self._post_twice(f"/v1/customers/{stripe_id}", params, key)
            self._add_tax_ids(stripe_id, tax_ids, key)
            return Pushed(id=stripe_id, how="updated", data=data)
        key = idempotency_key or _key(record_key, version, "create-customer")
        for _ in range(2):
            try:
                data = self.api.post("/v1/customers", params, idempotency_key=key)
                return Pushed(id=str(data["id"]), how="created", data=data)
            except RetryableError:
                found = self.find_customer(record_key, email=fields.get("email"))
                if found is not None:
                    return Pushed(id=str(found["id"]), how="found", data=found)
        raise RetryableError(f"Stripe did not confirm creating the customer for {record_key}")

    def _post_twice(self, path: str, params: Mapping[str, Any], key: str) -> dict[str, Any]:
        """An update sets the same values when sent twice: one resend after a lost answer."""
        try:
            return self.api.post(path, params, idempotency_key=key)
        except RetryableError:
            return self.api.post(path, params, idempotency_key=key)

    def _add_tax_ids(self, stripe_id: str, wanted: Any, key: str) -> None:
        if not wanted:
            return
        have: set[tuple[Any, Any]] = set()
        params: dict[str, Any] = {}  # Stripe's default page; localstripe takes no `limit`
        while True:
            page = self.api.get(f"/v1/customers/{stripe_id}/tax_ids", params)
            items = [t for t in page.get("data") or [] if isinstance(t, dict)]
            have |= {(t.get("type"), t.get("value")) for t in items}
            if not items or page.get("has_more") is not True:
                break
            params = {"starting_after": str(items[-1]["id"])}
        for item in wanted:
            if (item.get("type"), item.get("value")) not in have:
                tag = f"{key}-{item.get('type')}-{item.get('value')}"
                self._post_twice(f"/v1/customers/{stripe_id}/tax_ids", dict(item), tag)

    def find_customer(self, record_key: str, *, email: Any = None) -> dict[str, Any] | None:
        """The customer whose metadata holds our record key (search, or a listing).

        Without the search API (localstripe) the listing is narrowed by `email` first, then
        read whole: the email may have changed in Stripe since the customer was pushed.
        """
        try:
            page = self.api.get(
                "/v1/customers/search",
                {"query": f"metadata['{METADATA_KEY}']:'{record_key}'", "limit": 10},
            )
            return _with_key(page.get("data") or [], record_key)
        except RecordError:
            pass
        if isinstance(email, str) and email:
            found = _with_key(self._list_customers(email), record_key)
            if found is not None:
                return found
        return _with_key(self._list_customers(None), record_key)

    def _list_customers(self, email: str | None) -> Any:
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if email:
                params["email"] = email
            if after:
                params["starting_after"] = after
            page = self.api.get("/v1/customers", params)
            items = [i for i in page.get("data") or [] if isinstance(i, dict)]
            yield from items
            if not items or page.get("has_more") is not True:
                return
            after = str(items[-1]["id"])

    # ------------------------------------------------------------------ invoices
    def mark_invoice_paid(
        self, invoice_id: str, *, record_key: str, version: str, idempotency_key: str | None = None
    ) -> Pushed:
        """Paid outside Stripe (bank transfer booked in the ledger): `paid_out_of_band`."""
        key = idempotency_key or _key(record_key, version, "pay-invoice")
        return self._invoice_action(invoice_id, "pay", {"paid_out_of_band": "true"}, "paid", key)

    def void_invoice(
        self, invoice_id: str, *, record_key: str, version: str, idempotency_key: str | None = None
    ) -> Pushed:
        key = idempotency_key or _key(record_key, version, "void-invoice")
        return self._invoice_action(invoice_id, "void", {}, "void", key)

    def _invoice_action(
        self,
        invoice_id: str,
        action: str,
        params: Mapping[str, Any],
        status: str,
        key: str,
    ) -> Pushed:
        current = self.api.get(f"/v1/invoices/{invoice_id}")
        if current.get("status") == status:
            return Pushed(id=invoice_id, how="unchanged", data=current, status=status)
        for _ in range(2):
            try:
                data = self.api.post(
                    f"/v1/invoices/{invoice_id}/{action}", params, idempotency_key=key
                )
                return Pushed(
                    id=invoice_id, how="updated", data=data, status=str(data.get("status") or "")
                )
            except RetryableError:
                current = self.api.get(f"/v1/invoices/{invoice_id}")
                if current.get("status") == status:
                    return Pushed(id=invoice_id, how="found", data=current, status=status)
        raise RetryableError(f"Stripe did not confirm `{action}` of invoice {invoice_id}")


def _with_key(candidates: Any, record_key: str) -> dict[str, Any] | None:
    for item in candidates:
        meta = item.get("metadata") or {}
        if isinstance(meta, dict) and meta.get(METADATA_KEY) == record_key:
            return dict(item)
    return None


_key = idempotency_key
