"""BottleCRM as a system that keeps records: accounts from customers, invoices with payments.

What billbridge writes (`RecordTarget`, engine/records.py and engine/twoway.py):

- a canonical **customer** is an account: name, e-mail, address; our record key goes
  into the account's key custom field (defined once through `/api/custom-fields/`);
- a canonical **invoice** (from the billing system) is a CRM invoice: its lines (net,
  plus one line for the tax), its number and our key in the title (the only field the
  invoice list searches), our key in `po_number` and the key custom field; then its
  **status, amount due and last payment date** as the CRM records them: a payment of
  whatever the billing system says was paid beyond what the CRM holds (so a payment is
  never recorded twice: a landed one already raised the CRM's `amount_paid`), and a
  cancel for a void invoice.

Look-up before create goes by our key alone: accounts by listing them (custom fields are
in the list; `cf_` filters answer 500 on SQLite), invoices by searching their titles for
the key and checking the whole invoice. The CRM silently ignores unknown fields and an
invoice `status` in a PUT, so every write is read back and compared (`differences`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

from billbridge.connectors.base import RecordError
from billbridge.connectors.records import Held, MissingReference, Xref
from billbridge.domain import Canonical, Customer, Invoice, InvoiceStatus

from ._client import CrmApi
from ._model import STATUS
from ._shapes import project

__all__ = ["CUSTOMER_FIELDS", "BottleCrmRecordTarget", "account_fields", "invoice_fields"]

CUSTOMER_FIELDS: Final = ("name", "email", "address_line", "city", "state", "postcode", "country")
_MODELS: Final = {"customer": "Account", "invoice": "Invoice"}
_OPEN: Final = frozenset({"draft", "open"})


def account_fields(value: Customer) -> dict[str, Any]:
    where = value.address
    return {
        "name": value.name,
        "email": value.email,
        "address_line": where.line1,
        "city": where.city,
        "state": where.region,
        "postcode": where.postal_code,
        "country": where.country,
    }


def invoice_fields(value: Invoice, *, record_key: str, account: str) -> dict[str, Any]:
    """The CRM invoice for a billing system's invoice; amounts as decimal strings."""
    lines: list[dict[str, Any]] = []
    net = Decimal(0)
    for line in value.lines:
        amount = line.amount.amount - line.discount.amount
        net += amount
        lines.append(
            {"description": line.description or "Item", "quantity": "1",
             "unit_price": str(amount)}
        )  # fmt: skip
    rest = value.total.amount - net
    if rest:
        lines.append({"description": "Tax", "quantity": "1", "unit_price": str(rest)})
    paid = value.amount_paid.amount
    last = value.paid_at.astimezone(UTC).date().isoformat() if value.paid_at and paid else None
    fields: dict[str, Any] = {
        "account": account,
        "invoice_title": f"{value.number or value.id} ({record_key})",
        "currency": value.currency,
        "line_items": lines,
        "total_amount": str(value.total.amount),
        "amount_paid": str(paid),
        "amount_due": str(value.total.amount - paid),
        "status": str(value.status),
        "last_payment_date": last,
    }
    if value.due_date is not None:  # none: the CRM's own payment terms set it
        fields["due_date"] = value.due_date.isoformat()
    return fields


def _same(want: Any, have: Any) -> bool:
    if isinstance(want, str | type(None)) and isinstance(have, str | type(None)):
        return (want or "").strip() == (have or "").strip()
    return bool(want == have)


class BottleCrmRecordTarget:
    """Accounts and invoices of one CRM organisation, found by our key."""

    def __init__(self, name: str, api: CrmApi, *, key_field: str = "billing_id") -> None:
        self.name = name
        self.api = api
        self.key_field = key_field
        self._defined: set[str] = set()
        self._accounts: dict[str, str] | None = None  # our key -> account id (this run)

    # ------------------------------------------------------------------ pure parts
    def fields(self, value: Canonical, *, record_key: str) -> Mapping[str, Any] | None:
        return account_fields(value) if isinstance(value, Customer) else None

    def fields_linked(
        self, value: Canonical, *, record_key: str, xref: Xref
    ) -> Mapping[str, Any] | None:
        if isinstance(value, Customer):
            return account_fields(value)
        if isinstance(value, Invoice):
            if value.status is InvoiceStatus.DRAFT:
                return None  # a draft may still change or vanish: written once it is issued
            account = xref("customer", value.customer)
            if account is None:
                raise MissingReference("customer", value.customer)
            return invoice_fields(value, record_key=record_key, account=account)
        return None

    def differences(self, asked: Mapping[str, Any], held: Mapping[str, Any]) -> tuple[str, ...]:
        found = []
        for name, want in asked.items():
            if name == "line_items":
                continue  # kept as the CRM computes them: their total is compared instead
            have = held.get(name)
            if name == "status" and want in _OPEN:
                same = have in _OPEN
            elif name in ("email", "country"):
                same = str(want or "").lower() == str(have or "").lower()
            else:
                same = _same(want, have)
            if not same:
                found.append(name)
        custom = held.get("custom_fields")
        if "custom_fields" in held and not (
            isinstance(custom, Mapping) and custom.get(self.key_field)
        ):
            found.append(f"custom_fields.{self.key_field}")
        return tuple(found)

    def origin(self, object: str, held: Held) -> str | None:
        custom = held.fields.get("custom_fields")
        key = custom.get(self.key_field) if isinstance(custom, Mapping) else None
        return str(key) if key else None

    # ------------------------------------------------------------------ look-ups
    def _define(self, obj: str) -> None:
        """Our key's custom field on the CRM model behind `obj`, defined once."""
        model = _MODELS[obj]
        if model in self._defined:
            return
        body = {"target_model": model, "key": self.key_field, "label": "billbridge key",
                "field_type": "text"}  # fmt: skip
        try:
            self.api.call("POST", "/api/custom-fields/", body, what="define the key field")
        except RecordError as exc:
            if "already exists" not in str(exc):
                raise
        self._defined.add(model)

    def find(self, object: str, record_key: str, fields: Mapping[str, Any]) -> Held | None:
        if object == "customer":
            ident = self._account_index().get(record_key)
            return None if ident is None else self.read(object, ident)
        if object == "invoice":
            query = f"search={quote(record_key)}"
            for _, items, _ in self.api.pages("invoices", query=query):
                for item in items:
                    held = self.read("invoice", str(item.get("id")))
                    if held is not None and record_key in (
                        held.fields.get("po_number"),
                        self._key_of(held.fields),
                    ):
                        return held
            return None
        raise RecordError(f"{self.name} keeps no {object}")

    def _key_of(self, data: Mapping[str, Any]) -> str | None:
        custom = data.get("custom_fields")
        key = custom.get(self.key_field) if isinstance(custom, Mapping) else None
        return str(key) if key else None

    def _account_index(self) -> dict[str, str]:
        if self._accounts is None:
            index: dict[str, str] = {}
            for _, items, _ in self.api.pages("accounts"):
                for item in items:
                    key = self._key_of(item)
                    if key:
                        index[key] = str(item.get("id"))
            self._accounts = index
        return self._accounts

    # ------------------------------------------------------------------ writes
    def create(
        self, object: str, record_key: str, fields: Mapping[str, Any], *, idempotency_key: str
    ) -> Held:
        self._define(object)
        if object == "customer":
            body = {**fields, "custom_fields": {self.key_field: record_key}}
            made = self.api.call("POST", "/api/accounts/", body, what="create account")
            ident = str(made["id"])
            self._account_index()[record_key] = ident
            return self._read_or_fail(object, ident)
        if object == "invoice":
            account = str(fields["account"])
            body = {
                "invoice_title": fields["invoice_title"],
                "account_id": account,
                "contact_id": self._contact(account),
                "currency": fields["currency"],
                "po_number": record_key[:100],
                "custom_fields": {self.key_field: record_key},
                "line_items": fields["line_items"],
            }
            if fields.get("due_date"):
                body["due_date"] = fields["due_date"]
            made = self.api.call("POST", "/api/invoices/", body, what="create invoice")
            ident = str(made["invoice"]["id"])
            self._settle(ident, fields, record_key)
            return self._read_or_fail(object, ident)
        raise RecordError(f"{self.name} keeps no {object}")

    def update(
        self,
        object: str,
        id: str,
        record_key: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str,
    ) -> Held:
        self._define(object)
        if object == "customer":
            now = self._read_or_fail(object, id).fields
            body: dict[str, Any] = {k: v for k, v in fields.items() if not _same(v, now.get(k))}
            custom = dict(now.get("custom_fields") or {})
            if custom.get(self.key_field) != record_key:
                body["custom_fields"] = {**custom, self.key_field: record_key}
            if body:  # PUT keeps what it does not name, but always wants the name
                body["name"] = fields.get("name") or now.get("name")
                self.api.call("PUT", f"/api/accounts/{id}/", body, what="update account")
            return self._read_or_fail(object, id)
        if object == "invoice":
            have = self._read_or_fail(object, id).fields
            body = {}
            for name in ("invoice_title", "currency", "due_date"):
                if fields.get(name) and not _same(fields[name], have.get(name)):
                    body[name] = fields[name]
            if not _same(fields["total_amount"], have.get("total_amount")):
                body["line_items"] = fields["line_items"]
            if body:
                self.api.call("PUT", f"/api/invoices/{id}/", body, what="update invoice")
            self._settle(id, fields, record_key)
            return self._read_or_fail(object, id)
        raise RecordError(f"{self.name} keeps no {object}")

    def _contact(self, account: str) -> str:
        found = self.api.get_one(f"/api/accounts/{account}/", what="read account")
        contacts = found.get("contacts") if isinstance(found, Mapping) else None
        if not contacts:
            raise RecordError(
                f"account {account} in {self.name} has no contact, and a BottleCRM invoice "
                "needs one: add a contact to the account, then retry"
            )
        return str(contacts[0]["id"])

    def _settle(self, ident: str, fields: Mapping[str, Any], record_key: str) -> None:
        """Payments and cancel, so the CRM's status and amounts are what was asked."""
        held = self._read_or_fail("invoice", ident)
        have = Decimal(str(held.fields.get("amount_paid") or "0"))
        want = Decimal(str(fields["amount_paid"]))
        if want > have:
            body = {
                "amount": str(want - have),
                "payment_date": fields.get("last_payment_date")
                or datetime.now(UTC).date().isoformat(),
                "payment_method": "CREDIT_CARD",
                "reference_number": record_key.rsplit(":", 1)[-1][:100],
            }
            self.api.call("POST", f"/api/invoices/{ident}/payments/", body, what="record payment")
        if fields.get("status") == "void" and held.fields.get("status") != "void":
            self.api.call("POST", f"/api/invoices/{ident}/cancel/", {}, what="cancel invoice")

    # ------------------------------------------------------------------ reads
    def _read_or_fail(self, object: str, id: str) -> Held:
        held = self.read(object, id)
        if held is None:
            raise RecordError(f"{object} {id} is gone from {self.name} right after the write")
        return held

    def read(self, object: str, id: str) -> Held | None:
        if object == "customer":
            found = self.api.get_one(f"/api/accounts/{id}/", what="read account")
            inner = found.get("account_obj") if isinstance(found, Mapping) else None
            return None if not isinstance(inner, Mapping) else Held(
                id=id, fields=project("customer", inner)
            )  # fmt: skip
        if object == "invoice":
            found = self.api.get_one(f"/api/invoices/{id}/", what="read invoice")
            inner = found.get("invoice") if isinstance(found, Mapping) else None
            if not isinstance(inner, Mapping):
                return None
            data = project("invoice", inner)
            payments = [str(p.get("payment_date") or "") for p in data["payments"]]
            status = STATUS.get(str(data.get("status")))
            data.update(
                status=str(status) if status is not None else str(data.get("status")),
                last_payment_date=max(payments) if payments else None,
            )
            return Held(id=id, fields=data)
        raise RecordError(f"{self.name} keeps no {object}")

    def close(self) -> None:
        self.api.close()
