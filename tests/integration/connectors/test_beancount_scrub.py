"""GDPR erasure in billbridge's own Beancount file: names out, every byte offset in place.

The real target writes entries whose payee and narration name a customer; `scrub_entries`
must replace the name in those strings only (an account that happens to contain the
same word stays), keep the file's length (the position the state store committed) and
every entry's place, leave a ledger `bean-check` accepts with the same balances, and
let the target go on appending after it, recovering nothing twice.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.connectors.base import RetryableError
from billbridge.connectors.beancount import ENTRIES_FILE, BeancountTarget, balances, scrub_entries

from .test_beancount import bean_check, entry, m


def test_names_are_replaced_in_place_and_the_ledger_still_checks(tmp_path: Path) -> None:
    main = tmp_path / "books" / "main.beancount"
    with BeancountTarget("books", main) as target:
        target.write([entry(1, payee='Müller "Globex" Corp', narration="Invoice 1 — Globex")])
        target.write([entry(2, ("Assets:Globex", m("5.00")), ("Income:Sales", m("-5.00")),
                            payee="Initech", narration="Invoice 2 — Initech")])  # fmt: skip
        position = target.flush()
    path = main.parent / ENTRIES_FILE
    before, sums = path.read_bytes(), balances(main)

    replaced = scrub_entries(main, [('Müller "Globex" Corp', "crm:customer:1"),
                                    ("Globex", "crm:customer:1")])  # fmt: skip
    after = path.read_bytes()
    assert replaced == 2
    assert len(after) == len(before) == position
    assert b"M\xc3\xbcller" not in after and b"Invoice 1 \xe2\x80\x94 Globex" not in after
    assert b"Assets:Globex" in after and b"Initech" in after  # accounts and others stay
    assert next(i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y) > 0
    assert before.count(b"\n") == after.count(b"\n")
    bean_check(main)
    assert balances(main) == sums
    assert sums[("Assets:Globex", "EUR")] == Decimal("5.00")

    with BeancountTarget("books", main) as target:  # appends go on from the same position
        assert target.recover(position) == {}
        target.write([entry(3)])
        target.flush()
    bean_check(main)
    assert scrub_entries(main, [("Globex", "crm:customer:1")]) == 2  # entry 3: payee, narration


def test_a_file_a_sync_is_writing_is_not_touched(tmp_path: Path) -> None:
    main = tmp_path / "books" / "main.beancount"
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        target.flush()
        before = (main.parent / ENTRIES_FILE).read_bytes()
        with pytest.raises(RetryableError, match="locked by a running sync"):
            scrub_entries(main, [("Globex Corp", "crm:customer:1")])
    assert (main.parent / ENTRIES_FILE).read_bytes() == before
