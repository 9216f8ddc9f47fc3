"""GDPR erasure in a GnuCash book billbridge writes: names out, balances and checks kept.

The real target writes transactions whose description and split memo name a customer;
`scrub_book` must replace the name there only, leave every balance and key as it was,
leave no trace of the name in the file's bytes, let piecash open the book as before,
and refuse (retryably) while the book is locked by a running sync.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")

from billbridge.connectors.base import RetryableError
from billbridge.connectors.gnucash import GnuCashTarget, balances, posted_keys, scrub_book
from billbridge.domain import same_length

from .test_gnucash import entry


def test_a_name_leaves_descriptions_and_memos_and_the_balances_stay(tmp_path: Path) -> None:
    book = tmp_path / "books" / "main.gnucash"
    first = entry(1)
    legs = first.postings
    named = replace(first, postings=(legs[0], replace(legs[1], memo="Pro plan, Globex Corp"),
                                     legs[2]))  # fmt: skip
    target = GnuCashTarget("books", book, currency="EUR")
    target.write([named])
    target.write([entry(2, "0.30")])
    target.flush()
    target.close()
    sums, keys = balances(book), posted_keys(book)
    assert b"Globex Corp" in book.read_bytes()

    changed = scrub_book(book, [("Globex Corp", "crm:customer:1"), ("", "crm:customer:2")])
    assert changed == 3  # two descriptions, one memo
    assert b"Globex" not in book.read_bytes()
    assert balances(book) == sums and posted_keys(book) == keys
    stand_in = same_length("crm:customer:1", "Globex Corp")
    import piecash

    with piecash.open_book(str(book), readonly=True, open_if_lock=True) as opened:
        descriptions = sorted(t.description for t in opened.transactions)
        memos = {s.memo for t in opened.transactions for s in t.splits}
    assert descriptions == [f"Invoice HB-0001 — {stand_in}", f"Invoice HB-0002 — {stand_in}"]
    assert f"Pro plan, {stand_in}" in memos
    assert scrub_book(book, [("Globex Corp", "crm:customer:1")]) == 0


def test_a_book_a_sync_holds_is_not_touched(tmp_path: Path) -> None:
    book = tmp_path / "books" / "main.gnucash"
    target = GnuCashTarget("books", book, currency="EUR")
    try:
        target.write([entry(1)])
        target.flush()
        target.write([entry(2)])  # the book is open and locked while a batch is written
        before = book.read_bytes()
        with pytest.raises(RetryableError, match="open in GnuCash or a running sync"):
            scrub_book(book, [("Globex Corp", "crm:customer:1")])
        assert book.read_bytes() == before
        target.flush()
    finally:
        target.close()
    assert scrub_book(book, [("Globex Corp", "crm:customer:1")]) == 2
