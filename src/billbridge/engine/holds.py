"""How long a held record may wait, and what its queue row says when it waited too long.

Why: a hold waits for something that will come: the record it needs (a charge's balance
transaction, a refund's charge) to arrive, or a record it depends on (a payment's
invoice) to post. A hold is tried again when that record arrives or posts. When it does
not come within the flow's `hold_timeout` (billbridge.yaml, default 3 days), the hold
becomes a `failed` row that says what it waited for, since when, and what to do; it
keeps `waiting_on`, so it is still tried again by itself if the record comes later.
Every run that reads the flow (`sync`, the worker) applies the timeout.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from billbridge.store.base import ExceptionRow, Queue

__all__ = ["duration_text", "expired_holds", "has_expired_holds", "hold_started", "timeout_texts"]


def hold_started(prior: ExceptionRow | None, waiting_on: str, now: datetime) -> datetime:
    """Since when a record waits for `waiting_on`: from its open row if it waited for the
    same record before (a row from before `held_since` was kept counts from its first
    sight), else from now."""
    if prior is None or prior.waiting_on != waiting_on:
        return now
    return prior.held_since or prior.first_seen or now


def expired_holds(
    rows: Iterable[ExceptionRow], *, timeout: timedelta, now: datetime
) -> list[ExceptionRow]:
    """The held rows that have waited longer than `timeout`."""
    return [
        row
        for row in rows
        if row.kind == "held"
        and row.waiting_on
        and now - (row.held_since or row.first_seen or now) >= timeout
    ]


def has_expired_holds(store: Queue, *, flow: str, timeout: timedelta, now: datetime) -> bool:
    """Whether a run of `flow` has a hold to time out (the worker starts one for it)."""
    return bool(expired_holds(store.open_exceptions(flow=flow), timeout=timeout, now=now))


def duration_text(span: timedelta) -> str:
    """`3 days`, `12 hours`, `90 seconds`: the largest whole unit."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def timeout_texts(
    *, flow: str, waiting_on: str, reason: str, since: datetime, timeout: timedelta
) -> tuple[str, str]:
    """The message and the fix of a hold that timed out (no record data: keys and ids only)."""
    message = (
        f"{reason} since {since:%Y-%m-%d %H:%M} UTC, longer than the hold timeout of flow "
        f"{flow!r} ({duration_text(timeout)}): {waiting_on} never arrived or never posted"
    )
    hint = (
        f"check that the source sends {waiting_on} (its export file or its events), or fix "
        "why it fails if it is in the queue itself: this row is tried again by itself when "
        "it comes, or with `billbridge retry ID`; if it never will, post this record by "
        "hand and close the row with `billbridge queue dismiss ID --reason …` (raise "
        "`hold_timeout:` of the flow in billbridge.yaml if it is only slow)"
    )
    return message, hint
