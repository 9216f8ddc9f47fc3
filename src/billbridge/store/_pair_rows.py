"""Rows of the two-way and privacy tables (migration 0100), and the statements that write them.

Why statements: a two-way sync's links, field bases and conflicts must commit in the same
transaction as the record's outcome and audit row, so the engine adds them to its
`Batch.statements` (named query, parameters) instead of writing them on the side. The
builders below are the only place that knows the queries' parameter order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "ConflictRow",
    "LinkRow",
    "NotificationRow",
    "Statement",
    "archive_link",
    "base_statement",
    "conflict_statement",
    "link_statement",
    "notification_statement",
    "resolve_statement",
]

Statement = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRow:
    """One record on each side of a two-way `pair` ("a|b", the connections sorted)."""

    pair: str
    object: str
    a_key: str
    b_key: str
    status: Literal["active", "archived"]
    linked_at: datetime
    archived_at: datetime | None = None

    def other(self, key: str) -> str:
        return self.b_key if key == self.a_key else self.a_key


@dataclass(frozen=True, slots=True, kw_only=True)
class ConflictRow:
    """A field in conflict: values are JSON text (personal data; erasure rewrites them)."""

    id: int
    pair: str
    a_key: str
    b_key: str
    field: str
    base: str | None
    a_value: str
    b_value: str
    a_at: datetime
    b_at: datetime
    a_actor: str
    b_actor: str
    flow: str
    record_key: str
    status: str
    resolution: str
    opened_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationRow:
    id: int
    kind: str
    subject: str
    payload: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    error: str


def link_statement(pair: str, object: str, a_key: str, b_key: str, at: datetime) -> Statement:
    return ("link_upsert", (pair, object, a_key, b_key, at))


def archive_link(pair: str, a_key: str, at: datetime) -> Statement:
    return ("link_archive", (at, pair, a_key))


def base_statement(pair: str, a_key: str, field: str, value: str, at: datetime) -> Statement:
    return ("base_upsert", (pair, a_key, field, value, at))


def conflict_statement(
    *, pair: str, a_key: str, b_key: str, field: str, base: str | None, a_value: str,
    b_value: str, a_at: datetime, b_at: datetime, a_actor: str, b_actor: str, flow: str,
    record_key: str, at: datetime,
) -> Statement:  # fmt: skip
    return (
        "conflict_open",
        (pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at, a_actor, b_actor,
         flow, record_key, at),
    )  # fmt: skip


def resolve_statement(conflict_id: int, resolution: str, at: datetime) -> Statement:
    return ("conflict_resolve", (resolution, at, conflict_id))


def notification_statement(kind: str, subject: str, payload: str, at: datetime) -> Statement:
    return ("notification_add", (kind, subject, payload, at))
