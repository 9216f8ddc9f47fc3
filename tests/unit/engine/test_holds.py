"""The hold timeout's pure parts: when a hold started, which holds expired, how it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billbridge.engine.holds import duration_text, expired_holds, hold_started, timeout_texts
from billbridge.store.base import ExceptionRow

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _row(kind: str = "held", waiting_on: str = "s:invoice:in_1", **kw: object) -> ExceptionRow:
    return ExceptionRow(
        flow="f", record_key="s:charge:ch_1", version="v", kind=kind,  # type: ignore[arg-type]
        error="waiting", at=NOW, waiting_on=waiting_on, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("prior", "waiting_on", "expected"),
    [
        (None, "s:invoice:in_1", NOW),
        (_row(held_since=NOW - timedelta(days=2)), "s:invoice:in_1", NOW - timedelta(days=2)),
        (_row(held_since=NOW - timedelta(days=2)), "s:invoice:in_2", NOW),  # waits for another
        (_row(first_seen=NOW - timedelta(hours=5)), "s:invoice:in_1", NOW - timedelta(hours=5)),
        (_row(kind="failed", held_since=NOW - timedelta(days=9)), "s:invoice:in_1",
         NOW - timedelta(days=9)),  # a timed-out hold held again keeps its clock
    ],
)  # fmt: skip
def test_hold_started(prior: ExceptionRow | None, waiting_on: str, expected: datetime) -> None:
    assert hold_started(prior, waiting_on, NOW) == expected


def test_expired_holds_are_held_rows_past_the_timeout() -> None:
    old = _row(held_since=NOW - timedelta(days=3))
    young = _row(held_since=NOW - timedelta(days=2, hours=23))
    failed = _row(kind="failed", held_since=NOW - timedelta(days=30))
    legacy = _row(first_seen=NOW - timedelta(days=4))  # a row from before held_since
    found = expired_holds([old, young, failed, legacy], timeout=timedelta(days=3), now=NOW)
    assert found == [old, legacy]


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(days=3), "3 days"),
        (timedelta(days=1), "1 day"),
        (timedelta(hours=36), "36 hours"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(seconds=1), "1 second"),
        (timedelta(seconds=61), "61 seconds"),
    ],
)
def test_duration_text(span: timedelta, text: str) -> None:
    assert duration_text(span) == text


def test_timeout_texts_say_what_since_when_and_what_to_do() -> None:
    message, hint = timeout_texts(
        flow="stripe-to-books", waiting_on="stripe:invoice:in_9",
        reason="waiting for invoice in_9 to be posted", since=NOW - timedelta(days=4),
        timeout=timedelta(days=3),
    )  # fmt: skip
    assert message == (
        "waiting for invoice in_9 to be posted since 2026-03-06 12:00 UTC, longer than the "
        "hold timeout of flow 'stripe-to-books' (3 days): stripe:invoice:in_9 never arrived "
        "or never posted"
    )
    assert "stripe:invoice:in_9" in hint and "billbridge retry ID" in hint
    assert "billbridge queue dismiss ID --reason" in hint and "hold_timeout:" in hint
