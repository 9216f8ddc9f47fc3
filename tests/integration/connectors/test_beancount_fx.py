"""Converted legs and posting metadata in Beancount text, read back by the real loader."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import convert, data

from billbridge.connectors.base import RecordError
from billbridge.connectors.beancount import render_entries
from billbridge.domain import JournalEntry, Money, Posting


def _m(amount: str, currency: str) -> Money:
    return Money(amount=Decimal(amount), currency=currency)


def _entry(*postings: Posting) -> JournalEntry:
    return JournalEntry(
        date=date(2026, 1, 20), narration="Payment for DE-0001", postings=postings,
        key="f|stripe:charge:ch_1|payment", source="stripe:charge:ch_1", version="v1",
    )  # fmt: skip


def _load(tmp_path: Path, text: str) -> list[data.Transaction]:
    opens = "".join(
        f"2020-01-01 open {a}\n"
        for a in ("Assets:Clearing", "Assets:Receivable", "Expenses:Fees", "Income:FX-Gain")
    )
    path = tmp_path / "main.beancount"
    path.write_text('option "operating_currency" "EUR"\n' + opens + text)
    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    return [e for e in entries if isinstance(e, data.Transaction)]


def test_converted_legs_keep_the_original_and_balance_in_the_functional_currency(
    tmp_path: Path,
) -> None:
    entry = _entry(
        Posting(
            account="Assets:Clearing", amount=_m("110.20", "EUR"), original=_m("116.00", "USD")
        ),
        Posting(account="Expenses:Fees", amount=_m("2.85", "EUR"), original=_m("3.00", "USD")),
        Posting(
            account="Assets:Receivable", amount=_m("-107.10", "EUR"), original=_m("-119.00", "USD"),
            meta=(("tax-report-code", "81"),),
        ),
        Posting(account="Income:FX-Gain", amount=_m("-5.95", "EUR"), memo="realized gain"),
    )  # fmt: skip
    text = render_entries([entry])
    assert "-119.00 USD @@ 107.10 EUR" in text
    (txn,) = _load(tmp_path, text)
    weights = {p.account: convert.get_weight(p) for p in txn.postings}
    assert {a: (w.number, w.currency) for a, w in weights.items()} == {
        "Assets:Clearing": (Decimal("110.20"), "EUR"),
        "Expenses:Fees": (Decimal("2.85"), "EUR"),
        "Assets:Receivable": (Decimal("-107.10"), "EUR"),
        "Income:FX-Gain": (Decimal("-5.95"), "EUR"),
    }
    receivable = next(p for p in txn.postings if p.account == "Assets:Receivable")
    assert (receivable.units.number, receivable.units.currency) == (Decimal("-119.00"), "USD")
    assert receivable.meta["tax-report-code"] == "81"


def test_a_bad_posting_meta_key_is_a_record_error() -> None:
    entry = _entry(
        Posting(account="Assets:Clearing", amount=_m("1.00", "EUR"), meta=(("Bad Key", "x"),)),
        Posting(account="Expenses:Fees", amount=_m("-1.00", "EUR")),
    )
    with pytest.raises(RecordError, match="metadata key 'Bad Key'"):
        render_entries([entry])
