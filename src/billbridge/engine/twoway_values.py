"""The values a two-way sync compares, and the conflict rows it keeps (pure functions).

Why one comparable form: a field is compared between two systems and with its bases as
JSON text, so "Berlin " and "Berlin", or an e-mail in capitals, are the same value,
while an address is compared whole (all its parts at once).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from billbridge.domain import Address, Canonical, Money
from billbridge.store.base import ConflictRow, Statement, conflict_statement, resolve_statement

from .owners import FieldDecision, FieldOwner

__all__ = ["comparable", "conflict_rows", "from_comparable", "settle_rows", "shown"]


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def comparable(field: str, value: Any) -> str:
    """One field's value as sorted JSON text; e-mails in lower case, countries in upper."""
    plain = _plain(value)
    if field == "email" and isinstance(plain, str):
        plain = plain.lower()
    if isinstance(plain, dict) and "country" in plain and isinstance(plain["country"], str):
        plain = {**plain, "country": plain["country"].upper()}
    return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS).decode()


def from_comparable(field: str, text: str, like: Any) -> Any:
    """A comparable value (or a person's `--value`) as the canonical field `like` holds."""
    data = orjson.loads(text)
    if isinstance(like, Address):
        if not isinstance(data, dict):
            raise TypeError(f'{field} takes an address as JSON: {{"line1": …, "city": …}}')
        known = {f.name for f in dataclasses.fields(Address)}
        return Address(**{k: str(v or "") for k, v in data.items() if k in known})
    if isinstance(like, str) or like is None:
        return str(data) if data is not None else ""
    raise TypeError(f"{field} cannot be set from {text!r}")


def shown(text: str | None) -> str:
    """A comparable value as a person reads it in the queue."""
    if text is None:
        return "(never synced)"
    data = orjson.loads(text)
    if isinstance(data, dict):
        first = [k for k in _ADDRESS_ORDER if k in data]
        keys = first + sorted(k for k in data if k not in first)
        return ", ".join(str(data[k]) for k in keys if data[k]) or "(empty)"
    return repr(data)


_ADDRESS_ORDER = ("line1", "line2", "postal_code", "city", "region", "country")


def conflict_rows(
    *,
    pair: str,
    a: str,
    b: str,
    a_key: str,
    b_key: str,
    fields: Mapping[str, FieldDecision],
    values: Mapping[str, Canonical],
    stored: Mapping[str, str],
    seen: Mapping[str, datetime],
    flow: str,
    now: datetime,
    owners: Mapping[str, FieldOwner],
) -> tuple[list[Statement], str]:
    """The `field_conflicts` rows of one record's conflicts, and the queue row's text."""
    rows: list[Statement] = []
    parts: list[str] = []
    for name, decision in sorted(fields.items()):
        va = comparable(name, getattr(values[a], name))
        vb = comparable(name, getattr(values[b], name))
        base = None
        if name in stored:
            both = orjson.loads(stored[name])
            owner = owners.get(name)
            base = both["a"] if owner is None or owner.owner == a else both["b"]
        rows.append(conflict_statement(
            pair=pair, a_key=a_key, b_key=b_key, field=name, base=base, a_value=va,
            b_value=vb, a_at=seen[a], b_at=seen[b], a_actor=a, b_actor=b, flow=flow,
            record_key=a_key, at=now,
        ))  # fmt: skip
        parts.append(
            f"{name} {decision.reason}: {a} has {shown(va)}, {b} has {shown(vb)}, "
            f"last synced {shown(base)}"
        )
    return rows, "; ".join(parts)


def settle_rows(
    open_rows: Sequence[ConflictRow], still: Mapping[str, FieldDecision], now: datetime
) -> list[Statement]:
    """Close the open conflicts of fields that are no longer in conflict."""
    return [
        resolve_statement(row.id, "settled: the two sides no longer disagree", now)
        for row in open_rows
        if row.field not in still
    ]
