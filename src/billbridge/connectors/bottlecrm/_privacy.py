"""Personal data in the CRM's records, for GDPR erasure: whose it is, and its stand-ins.

Subjects are record keys without the connection (`customer:<account id>`,
`contact:<contact id>`): an account is its own subject; a contact belongs to itself and
to its account; a deal and an invoice carry the data of their account (and an invoice
that of its contact). `redact` replaces the fields that identify a person (names,
e-mails, phones, addresses, free text about them) with the subject's pseudonym and
keeps amounts, numbers, dates, currencies and statuses (legal retention).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from billbridge.domain import pseudonym, pseudonym_email

__all__ = ["redact", "subjects"]

_NAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "customer": ("name", "website", "description"),
    "contact": ("first_name", "last_name", "title"),
    "deal": ("name",),
    "invoice": ("client_name", "invoice_title"),
}
_ADDRESS: Final = ("phone", "address_line", "city", "state", "postcode")
_EMAILS: Final = ("email", "client_email")


def subjects(data: Mapping[str, Any]) -> list[str]:
    kind = data.get("object")
    found: list[str] = []
    if kind == "customer":
        found.append(f"customer:{data.get('id')}")
    if kind == "contact":
        found.append(f"contact:{data.get('id')}")
    account = data.get("account")
    if isinstance(account, str) and account:
        found.append(f"customer:{account}")
    contact = data.get("contact")
    if kind == "invoice" and isinstance(contact, str) and contact:
        found.append(f"contact:{contact}")
    return found


def redact(data: Mapping[str, Any], erased: frozenset[str]) -> Mapping[str, Any]:
    """`data` with the personal fields of the `erased` subjects replaced (else unchanged)."""
    mine = [s for s in subjects(data) if s in erased]
    if not mine:
        return data
    subject = mine[0]
    kind = str(data.get("object"))
    out = dict(data)
    for name in _NAMES.get(kind, ()):
        if out.get(name):
            out[name] = pseudonym(subject)
    for name in _EMAILS:
        if out.get(name):
            out[name] = pseudonym_email(subject)
    for name in _ADDRESS:
        if out.get(name):
            out[name] = None
    return out
