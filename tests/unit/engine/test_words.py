"""Changes and records in words: no Python value ever reaches a person."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from billbridge.domain import Money, RecordWords, plural
from billbridge.engine.words import change_lines, change_text, plain_value


def test_audit_diffs_read_as_field_old_to_new_without_python_reprs() -> None:
    diff = {
        "postings": [None, ["issue"]],
        "field": [None, "tax_id"],
        "version": [None, "b30f8956"],
        "status": ["open", "dismissed"],
        "attempts_in_run": 2,
        "dry_run": [None, True],
        "counts": [None, {"synced": 3, "failed": 0}],
    }
    assert change_lines(diff) == [
        "entries: issue",
        "field: tax_id",
        "source version: b30f8956",
        "status: open → dismissed",
        "tries in this run: 2",
        "dry run: yes",
        "counts: synced 3, failed 0",
    ]
    text = change_text(diff)
    for repr_mark in ("None", "[", "'", "{", "True"):
        assert repr_mark not in text


def test_plain_values() -> None:
    assert plain_value(None) == "(none)"
    assert plain_value([]) == "(none)"
    assert plain_value(["issue", "void"]) == "issue, void"
    assert plain_value(Decimal("1.50")) == "1.50"
    assert change_lines({"resolution": ["", "paid in cash"]}) == ["reason: paid in cash"]
    assert change_lines({"error": ["old", None]}) == ["why: old → (none)"]


def test_plurals_agree_with_their_count() -> None:
    assert plural(1, "journal entry", "journal entries") == "1 journal entry"
    assert plural(2, "journal entry", "journal entries") == "2 journal entries"
    assert plural(0, "posting") == "0 postings"
    assert plural(1, "posting") == "1 posting"
    assert plural(1200, "record") == "1,200 records"


def test_a_record_in_one_line() -> None:
    words = RecordWords(
        kind="Invoice", number="HB-0042", counterparty="Globex Corp",
        amount=Money(Decimal("1190.00"), "EUR"), day=date(2026, 1, 5),
    )  # fmt: skip
    assert words.text() == "Invoice HB-0042 · Globex Corp · 1,190.00 EUR · 2026-01-05"
    assert RecordWords(kind="Unreadable export line", number="300").text() == (
        "Unreadable export line 300"
    )
