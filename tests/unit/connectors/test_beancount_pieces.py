"""Reading a Beancount ledger back in pieces gives what parsing it whole gives.

Reconcile reads the books in pieces of a few MB (bounded memory at any ledger size); a
piece must never cut an entry or a multi-line string, and `option` and `pushmeta`
lines must still apply to what follows them. Here every possible cut is tried (pieces
of one byte), against Beancount's parser over the whole file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from beancount.core import data
from beancount.parser import parser

from billbridge.connectors.beancount import _read

LEDGER = """\
option "operating_currency" "EUR"
option "name_assets" "Aktiva"

2024-01-01 open Aktiva:Bank
2024-01-01 open Income:Sales

pushmeta billbridge-key: "stripe:invoice:in_pushed"

2024-02-01 * "Shop" "two lines; a quote \\" escaped
and a blank line inside the string:

2024-03-01 * not an entry"
  billbridge-idem: "f|stripe:invoice:in_1|issue"
  Aktiva:Bank      10.00 EUR ; a comment with a stray " quote
  Income:Sales    -10.00 EUR

popmeta billbridge-key:

; a comment line with "one quote
2024-01-15 * "Earlier date, later line"
  billbridge-idem: "f|stripe:invoice:in_2|issue"
  billbridge-key: "stripe:invoice:in_2"
  Aktiva:Bank      5.00 EUR
  Income:Sales    -5.00 EUR

2024-01-15 * "Not billbridge's"
  Aktiva:Bank      1.00 EUR
  Income:Sales    -1.00 EUR

2024-02-01 * "Shop" "pasted twice"
  billbridge-idem: "f|stripe:invoice:in_1|issue"
  Aktiva:Bank      10.00 EUR
  Income:Sales    -10.00 EUR
"""


def _whole(path: Path) -> list[tuple[str, str, str, tuple[str, ...]]]:
    entries, _errors, _options = parser.parse_file(str(path))
    entries.sort(key=lambda e: e.meta["lineno"])
    return [
        (
            str(e.meta["billbridge-idem"]),
            str(e.meta.get("billbridge-key", "")),
            f"{path.name}:{e.meta['lineno']}",
            tuple(f"{p.account} {p.units.number} {p.units.currency}" for p in e.postings),
        )
        for e in entries
        if isinstance(e, data.Transaction) and "billbridge-idem" in e.meta
    ]


@pytest.mark.parametrize("piece", [1, 40, 1 << 20])
def test_pieces_read_what_the_whole_file_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    path = tmp_path / "main.beancount"
    path.write_text(LEDGER)
    monkeypatch.setattr(_read, "_PIECE", piece)
    got = [
        (
            p.idempotency_key,
            p.record_key,
            p.ref,
            tuple(f"{g.account} {g.amount} {g.currency}" for g in p.legs),
        )
        for p in _read.read_postings(path)
    ]
    assert got == _whole(path)
    assert [key for key, *_ in got] == [
        "f|stripe:invoice:in_1|issue",
        "f|stripe:invoice:in_2|issue",
        "f|stripe:invoice:in_1|issue",
    ]
    assert got[0][1] == "stripe:invoice:in_pushed"  # pushmeta applied across pieces


def test_pieces_never_cut_inside_a_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "main.beancount"
    path.write_text(LEDGER)
    monkeypatch.setattr(_read, "_PIECE", 1)
    pieces = list(_read._pieces(path))
    assert len(pieces) > 3
    assert not any(text.lstrip().startswith(b"2024-03-01 * not an entry") for text, _ in pieces)
