"""A customer record from another system (a CRM, a spreadsheet) as a write-back request.

Why checked here, before anything is sent: a record Stripe would refuse (an unknown
field, a malformed VAT number, a missing record key) is the sender's mistake, found
offline with a message naming the field and the fix, instead of a queue row later.

The record is Stripe-shaped, so nothing is renamed behind anyone's back:

```json
{"name": "Globex Corp", "email": "ap@globex.example", "phone": "+49 30 1234567",
 "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
 "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}],
 "metadata": {"billbridge_key": "crm:customer:42", "crm_owner": "ana"}}
```
`metadata.billbridge_key` is our record key (`system:object:id`): it is how the customer
is found again in Stripe, so a push after a lost answer never creates a second one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from stdnum.eu import vat as eu_vat

from billbridge.domain.validation import is_country

from .writeback import WriteBackRequest

__all__ = ["RECORD_KEY_FIELD", "CustomerInputError", "customer_request"]

RECORD_KEY_FIELD: Final = "billbridge_key"
_TEXT: Final = ("name", "email", "phone", "description")
_KNOWN: Final = frozenset(
    {*_TEXT, "address", "preferred_locales", "tax_exempt", "tax_ids", "metadata"}
)
_ADDRESS: Final = frozenset({"line1", "line2", "city", "postal_code", "state", "country"})
_TAX_EXEMPT: Final = ("none", "exempt", "reverse")
_RECORD_KEY: Final = re.compile(r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+:\S+$")
_TAX_TYPE: Final = re.compile(r"^[a-z]{2}_[a-z]+$")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CustomerInputError(ValueError):
    """A customer record that cannot be pushed as it is; names the field and the fix."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.field = field
        where = f"{source}: " if source else ""
        super().__init__(f"{where}field `{field}`: {message}")


def customer_request(connection: str, record: Any, *, source: str = "") -> WriteBackRequest:
    """The write-back request for one customer record; `CustomerInputError` if it is bad."""

    def bad(field: str, message: str) -> CustomerInputError:
        return CustomerInputError(source, field, message)

    if not isinstance(record, Mapping):
        raise bad("(record)", "expected a JSON object with name, email, … and metadata")
    unknown = sorted(set(record) - _KNOWN)
    if unknown:
        raise bad(unknown[0], f"unknown field; known: {', '.join(sorted(_KNOWN))}")
    fields: dict[str, Any] = {}
    for name in _TEXT:
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise bad(name, "must be a non-empty string")
        fields[name] = value.strip()
    if "email" in fields and not _EMAIL.match(fields["email"]):
        raise bad("email", f"{fields['email']!r} is not an email address")
    if record.get("address") is not None:
        fields["address"] = _address(record["address"], bad)
    if record.get("preferred_locales") is not None:
        locales = record["preferred_locales"]
        if not isinstance(locales, list) or not all(isinstance(x, str) for x in locales):
            raise bad("preferred_locales", 'must be a list of strings, e.g. ["de", "en"]')
        fields["preferred_locales"] = list(locales)
    if record.get("tax_exempt") is not None:
        if record["tax_exempt"] not in _TAX_EXEMPT:
            raise bad("tax_exempt", f"must be one of {', '.join(_TAX_EXEMPT)}")
        fields["tax_exempt"] = record["tax_exempt"]
    if record.get("tax_ids"):
        fields["tax_id_data"] = _tax_ids(record["tax_ids"], bad)
    meta = record.get("metadata")
    if not isinstance(meta, Mapping):
        raise bad(f"metadata.{RECORD_KEY_FIELD}", "required: the record's key in the system "
                  "it comes from, e.g. crm:customer:42")  # fmt: skip
    key = meta.get(RECORD_KEY_FIELD)
    if not isinstance(key, str) or not _RECORD_KEY.match(key):
        raise bad(
            f"metadata.{RECORD_KEY_FIELD}",
            f"got {key!r}; give the record's key as system:object:id, e.g. crm:customer:42",
        )
    extra = {k: v for k, v in meta.items() if k != RECORD_KEY_FIELD}
    for name, value in extra.items():
        if not isinstance(value, str) or len(str(name)) > 40 or len(value) > 500:
            raise bad(f"metadata.{name}", "Stripe metadata: string values up to 500 characters, "
                      "keys up to 40")  # fmt: skip
    if extra:
        fields["metadata"] = extra
    return WriteBackRequest(
        connection=connection, action="push-customer", record_key=key, fields=fields
    )


def _address(value: Any, bad: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise bad("address", f"must be an object with {', '.join(sorted(_ADDRESS))}")
    unknown = sorted(set(value) - _ADDRESS)
    if unknown:
        raise bad(f"address.{unknown[0]}", f"unknown; known: {', '.join(sorted(_ADDRESS))}")
    address: dict[str, str] = {}
    for name, part in value.items():
        if not isinstance(part, str):
            raise bad(f"address.{name}", "must be a string")
        address[name] = part
    country = address.get("country")
    if country is not None and not is_country(country):
        raise bad("address.country", f"{country!r} is not an ISO 3166-1 alpha-2 code (e.g. DE)")
    return address


def _tax_ids(value: Any, bad: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise bad("tax_ids", 'must be a list like [{"type": "eu_vat", "value": "DE136695976"}]')
    found = []
    for i, item in enumerate(value):
        where = f"tax_ids[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"type", "value"}:
            raise bad(where, 'must be {"type": …, "value": …}')
        kind, number = item["type"], item["value"]
        if not isinstance(kind, str) or not _TAX_TYPE.match(kind):
            raise bad(f"{where}.type", f"{kind!r} is not a Stripe tax id type (e.g. eu_vat)")
        if not isinstance(number, str) or not number.strip():
            raise bad(f"{where}.value", "must be a non-empty string")
        if kind == "eu_vat" and not eu_vat.is_valid(number):
            raise bad(
                f"{where}.value",
                f"{number!r} is not a valid EU VAT number (country prefix, length, check digit)",
            )
        found.append({"type": kind, "value": number.replace(" ", "")})
    return found
