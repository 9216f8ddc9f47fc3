"""BeancountTarget against real files, the real beancount loader and `bean-check`.

Why no fakes: the promise is "bean-check clean, exactly once, after any crash", and only
the real parser can say whether the text we append is a valid ledger.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.connectors.base import (
    FatalError,
    PositionMismatchError,
    RecordError,
    RetryableError,
)
from billbridge.connectors.beancount import (
    ACCOUNTS_FILE,
    ENTRIES_FILE,
    BeancountTarget,
    account_problem,
    balances,
    load,
    posted_keys,
)
from billbridge.domain import JournalEntry, Money, Posting

BEAN_CHECK = str(Path(sys.executable).parent / "bean-check")


def bean_check(main: Path) -> None:
    """Run the real `bean-check`; it must exit 0 and print nothing."""
    done = subprocess.run(
        [BEAN_CHECK, str(main)], capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def m(amount: str, currency: str = "EUR") -> Money:
    return Money(amount=Decimal(amount), currency=currency)


def entry(
    n: int,
    *legs: tuple[str, Money],
    narration: str = "",
    payee: str = "Globex Corp",
    links: tuple[str, ...] = (),
    meta: tuple[tuple[str, str], ...] = (),
    memos: tuple[str, ...] = (),
) -> JournalEntry:
    """Entry number `n`; without legs, a 119.00 EUR invoice with 19% VAT."""
    if not legs:
        legs = (
            ("Assets:Receivable:Stripe", m("119.00")),
            ("Income:Sales:Pro", m("-100.00")),
            ("Liabilities:VAT:DE19", m("-19.00")),
        )
    memo_of = dict(enumerate(memos))
    return JournalEntry(
        date=date(2024, 3, 5),
        narration=narration or f"Invoice HB-{n:04d} — Globex Corp",
        postings=tuple(
            Posting(account=a, amount=amt, memo=memo_of.get(i, ""))
            for i, (a, amt) in enumerate(legs)
        ),
        key=f"stripe-to-books|stripe:invoice:in_{n}|issue",
        source=f"stripe:invoice:in_{n}",
        version=f"v{n}",
        payee=payee,
        links=links or (f"in_{n}",),
        meta=meta,
    )


@pytest.fixture
def main(tmp_path: Path) -> Path:
    return tmp_path / "books" / "main.beancount"


@pytest.fixture
def target(main: Path) -> Iterator[BeancountTarget]:
    with BeancountTarget("books", main) as t:
        yield t


def test_written_ledger_loads_clean_with_exact_balances(
    main: Path, target: BeancountTarget
) -> None:
    narration = 'Invoice "HB-0042" — Globex \\ Corp\nsecond line'
    entries = [
        entry(
            1,
            narration=narration,
            links=("in_1", "HB 0042#x", "?!"),
            meta=(("invoice-number", "HB-0042"), ("customer", 'Globex "GmbH"')),
            memos=("", "Pro plan, March"),
        ),
        entry(
            2,
            ("Assets:Receivable:Stripe", m("500", "JPY")),
            ("Income:Sales:Pro", m("-500", "JPY")),
            payee="",
        ),
        entry(
            3,
            ("Assets:Bank:Kuwait", m("1.234", "KWD")),
            ("Expenses:Fees:Stripe", m("0.016", "KWD")),
            ("Assets:Receivable:Stripe", m("-1.250", "KWD")),
        ),
    ]
    target.write(entries[:1])
    target.write(entries[1:])
    target.flush()

    loaded, errors = load(main)
    assert errors == []
    bean_check(main)
    assert balances(main) == {
        ("Assets:Receivable:Stripe", "EUR"): Decimal("119.00"),
        ("Income:Sales:Pro", "EUR"): Decimal("-100.00"),
        ("Liabilities:VAT:DE19", "EUR"): Decimal("-19.00"),
        ("Assets:Receivable:Stripe", "JPY"): Decimal(500),
        ("Income:Sales:Pro", "JPY"): Decimal(-500),
        ("Assets:Bank:Kuwait", "KWD"): Decimal("1.234"),
        ("Expenses:Fees:Stripe", "KWD"): Decimal("0.016"),
        ("Assets:Receivable:Stripe", "KWD"): Decimal("-1.250"),
    }
    assert posted_keys(main) == {e.key: 1 for e in entries}
    first = next(e for e in loaded if getattr(e, "narration", "") == narration)
    assert first.payee == "Globex Corp"
    assert first.links == {"in_1", "HB0042x"}
    assert first.meta["customer"] == 'Globex "GmbH"'
    assert first.meta["billbridge-key"] == "stripe:invoice:in_1"
    assert first.meta["billbridge-version"] == "v1"
    assert first.meta["billbridge-entity"] == "default"
    assert first.postings[1].meta["memo"] == "Pro plan, March"
    no_payee = next(e for e in loaded if getattr(e, "meta", {}).get("billbridge-version") == "v2")
    assert no_payee.payee is None
    text = (main.parent / ENTRIES_FILE).read_text(encoding="utf-8")
    assert "  Assets:Receivable:Stripe" + " " * 11 + "500 JPY\n" in text
    assert "  Assets:Bank:Kuwait" + " " * 15 + "1.234 KWD\n" in text
    assert "  Assets:Receivable:Stripe        119.00 EUR\n" in text


def test_fresh_main_is_created_with_both_includes(main: Path) -> None:
    with BeancountTarget("books", main):
        pass
    text = main.read_text(encoding="utf-8")
    assert 'option "title" "books"' in text
    assert f'include "{ACCOUNTS_FILE}"\n' in text
    assert f'include "{ENTRIES_FILE}"\n' in text
    assert (main.parent / ENTRIES_FILE).read_bytes() == b""
    assert (main.parent / ACCOUNTS_FILE).read_bytes() == b""
    bean_check(main)


@pytest.mark.parametrize(
    ("includes", "missing"),
    [
        ([ACCOUNTS_FILE], [ENTRIES_FILE]),
        ([ENTRIES_FILE], [ACCOUNTS_FILE]),
        ([], [ACCOUNTS_FILE, ENTRIES_FILE]),
    ],
)
def test_main_without_the_includes_is_fatal_and_says_what_to_add(
    main: Path, includes: list[str], missing: list[str]
) -> None:
    main.parent.mkdir(parents=True)
    mine = 'option "title" "Mine"\n' + "".join(f'include "{f}"\n' for f in includes)
    main.write_text(mine, encoding="utf-8")
    with pytest.raises(FatalError) as caught:
        BeancountTarget("books", main)
    message = str(caught.value)
    assert str(main) in message
    for name in missing:
        assert f'include "{name}"' in message
    assert main.read_text(encoding="utf-8") == mine  # never edited


def test_main_that_cannot_be_read_is_fatal(tmp_path: Path) -> None:
    main = tmp_path / "main.beancount"
    main.mkdir()
    with pytest.raises(FatalError, match="cannot read the main ledger"):
        BeancountTarget("books", main)


def test_accounts_the_user_opened_are_not_opened_again(main: Path) -> None:
    main.parent.mkdir(parents=True)
    (main.parent / "accounts.beancount").write_text(
        "2020-01-01 open Income:Sales:Pro EUR\n", encoding="utf-8"
    )
    main.write_text(
        "2020-01-01 open Assets:Receivable:Stripe\n"
        'include "accounts.beancount"\n'
        f'include "{ACCOUNTS_FILE}"\n'
        f'include "{ENTRIES_FILE}"\n',
        encoding="utf-8",
    )
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        target.write([entry(2)])
        target.flush()
    assert (main.parent / ACCOUNTS_FILE).read_text(encoding="utf-8") == (
        "1970-01-01 open Liabilities:VAT:DE19\n"
    )
    bean_check(main)


def test_recover_returns_exactly_the_keys_after_the_committed_position(main: Path) -> None:
    blocks = [[entry(1), entry(2)], [entry(3)], [entry(4)], [entry(5), entry(6)], [entry(7)]]
    with BeancountTarget("books", main) as target:
        written = [target.write(b) for b in blocks[:3]]
        target.flush()
        committed = written[0].position
        written += [target.write(b) for b in blocks[3:]]  # never flushed or committed
        expected = {b[0].key: w.ref for b, w in zip(blocks[1:], written[1:], strict=True)}
        found = target.recover(committed)
    assert {k: found[k].ref for k in expected} == expected
    assert set(found) == {e.key for b in blocks[1:] for e in b}
    lines = (main.parent / ENTRIES_FILE).read_text(encoding="utf-8").splitlines()
    for key, item in found.items():
        line = int(item.ref.removeprefix(f"{ENTRIES_FILE}:"))
        assert lines[line - 1].startswith("2024-03-05 *")
        assert f'  billbridge-idem: "{key}"' in lines[line : line + 4]

    # a restarted process finds the same refs
    with BeancountTarget("books", main) as again:
        assert again.recover(committed) == found
        assert again.recover(again.flush()) == {}


def test_recover_truncates_a_torn_tail(main: Path) -> None:
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        committed = target.flush()
        target.write([entry(2)])
        complete_end = target.write([entry(3)]).position
        torn = target.render([entry(4), entry(5)]).encode()
    entries_file = main.parent / ENTRIES_FILE
    with entries_file.open("ab") as file:
        file.write(torn[: len(torn) // 2])  # a write the crash cut short

    with BeancountTarget("books", main) as target:
        with pytest.raises(FatalError, match="recover"):
            target.write([entry(9)])
        found = target.recover(committed)
        assert set(found) == {entry(2).key, entry(3).key}
        assert entries_file.stat().st_size == complete_end
        bean_check(main)
        written = target.write([entry(4)])
        assert written.position == entries_file.stat().st_size
        line = int(written.ref.removeprefix(f"{ENTRIES_FILE}:"))
        text_lines = entries_file.read_text(encoding="utf-8").splitlines()
        assert text_lines[line - 1].startswith("2024-03-05 *")
        target.flush()
    bean_check(main)
    assert posted_keys(main) == {entry(n).key: 1 for n in (1, 2, 3, 4)}


def test_recover_keeps_a_block_missing_only_its_blank_line(main: Path) -> None:
    """Its entries and its terminator are whole: it is in the books, and the next block
    is written after a blank line all the same."""
    with BeancountTarget("books", main) as target:
        committed = target.write([entry(1)]).position
        target.write([entry(2)])
        target.flush()
    entries_file = main.parent / ENTRIES_FILE
    with entries_file.open("r+b") as file:
        file.truncate(entries_file.stat().st_size - 1)
    with BeancountTarget("books", main) as target:
        assert set(target.recover(committed)) == {entry(2).key}
        target.write([entry(3)])
        assert target.recover(target.flush()) == {}
    assert b"\n\n2024-03-05 *" in entries_file.read_bytes()[committed:]
    bean_check(main)
    assert posted_keys(main) == {entry(n).key: 1 for n in (1, 2, 3)}


def test_recover_never_reads_before_the_committed_position(main: Path) -> None:
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        committed = target.write([entry(2)]).position
        target.write([entry(3)])
        target.flush()
    entries_file = main.parent / ENTRIES_FILE
    raw = entries_file.read_bytes()
    # Garbage that keeps the newlines (so line numbers still hold) but breaks any parser,
    # up to the terminator line just before the position (the one line recover checks).
    cut = raw.rindex(b"; billbridge-end", 0, committed)
    garbage = bytes(b if b == 0x0A else 0xFF for b in raw[:cut])
    entries_file.write_bytes(garbage + raw[cut:])
    with BeancountTarget("books", main) as target:
        found = target.recover(committed)
    assert set(found) == {entry(3).key}
    line = int(found[entry(3).key].ref.removeprefix(f"{ENTRIES_FILE}:"))
    assert raw.splitlines()[line - 1].startswith(b"2024-03-05 *")
    assert load(main)[1]  # the real loader does choke on the garbage


def test_recover_reopens_accounts_the_crash_lost(main: Path) -> None:
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        target.flush()
    # The OS wrote the entries back to disk but not the accounts file before the crash.
    (main.parent / ACCOUNTS_FILE).write_bytes(b"1970-01-01 open Assets:Receivable:Str")
    with BeancountTarget("books", main) as target:
        assert set(target.recover(0)) == {entry(1).key}
    bean_check(main)


def test_recover_refuses_positions_the_file_does_not_have(main: Path) -> None:
    with BeancountTarget("books", main) as target:
        end = target.write([entry(1)]).position
        with pytest.raises(FatalError, match="shorter than the committed position"):
            target.recover(end + 10)
        inside = (main.parent / ENTRIES_FILE).read_bytes().index(b"  billbridge-key")
        with pytest.raises(PositionMismatchError, match="not the end of an entry"):
            target.recover(inside)


def test_find_looks_everywhere(target: BeancountTarget) -> None:
    written = [target.write([entry(n), entry(n + 100)]) for n in range(1, 6)]
    target.flush()
    found = target.find([entry(1).key, entry(3).key, entry(105).key, "flow|nothing|here"])
    assert set(found) == {entry(1).key, entry(3).key, entry(105).key}
    assert found[entry(1).key] == written[0].ref
    assert found[entry(3).key] == written[2].ref
    assert target.find([]) == {}


def test_keys_with_quotes_backslashes_and_newlines_round_trip(
    main: Path, target: BeancountTarget
) -> None:
    odd = dataclasses.replace(entry(1), key='flow|stripe:invoice:"in_1"\\x\ny|issue')
    committed = target.write([entry(2)]).position
    target.write([odd])
    assert set(target.recover(committed)) == {odd.key}
    assert set(target.find([odd.key])) == {odd.key}
    target.flush()
    assert posted_keys(main) == {odd.key: 1, entry(2).key: 1}
    bean_check(main)


def test_render_is_exactly_what_write_appends(main: Path, target: BeancountTarget) -> None:
    blocks = [[entry(1), entry(2, payee="")], [entry(3, narration='quote " and — dash')]]
    entries_file = main.parent / ENTRIES_FILE
    for block in blocks:
        before = entries_file.stat().st_size
        after = target.write(block).position
        assert entries_file.read_bytes()[before:after] == target.render(block).encode()
    assert target.render([]) == ""


def test_render_format(target: BeancountTarget) -> None:
    assert target.render([entry(42, links=("in_42", "HB-0042"))]) == (
        '2024-03-05 * "Globex Corp" "Invoice HB-0042 — Globex Corp" ^in_42 ^HB-0042\n'
        '  billbridge-key: "stripe:invoice:in_42"\n'
        '  billbridge-version: "v42"\n'
        '  billbridge-idem: "stripe-to-books|stripe:invoice:in_42|issue"\n'
        '  billbridge-entity: "default"\n'
        "  Assets:Receivable:Stripe        119.00 EUR\n"
        "  Income:Sales:Pro               -100.00 EUR\n"
        "  Liabilities:VAT:DE19            -19.00 EUR\n"
        "; billbridge-end stripe-to-books|stripe:invoice:in_42|issue\n"
        "\n"
    )


@pytest.mark.parametrize(
    ("legs", "meta", "match"),
    [
        ((("Assets:bank", m("1")), ("Income:X", m("-1"))), (), "upper-case letter"),
        ((("Assets:Bank", m("1")), ("Income:X", m("-1"))), (("Bad Key", "x"),), "metadata key"),
        ((("Assets:Bank", m("1")), ("Income:X", m("-1"))), (("billbridge-idem", "x"),), "reserved"),
    ],
)
def test_bad_accounts_and_metadata_are_record_errors_before_any_write(
    main: Path,
    target: BeancountTarget,
    legs: tuple[tuple[str, Money], ...],
    meta: tuple[tuple[str, str], ...],
    match: str,
) -> None:
    with pytest.raises(RecordError, match=match):
        target.write([entry(1, *legs, meta=meta)])
    assert (main.parent / ENTRIES_FILE).read_bytes() == b""
    assert (main.parent / ACCOUNTS_FILE).read_bytes() == b""


def test_a_second_writer_is_told_to_retry(main: Path, target: BeancountTarget) -> None:
    with pytest.raises(RetryableError, match="locked by another billbridge process"):
        BeancountTarget("books", main)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to fill a disk")
def test_disk_full_is_retryable_and_names_the_file(main: Path) -> None:
    main.parent.mkdir(parents=True)
    (main.parent / ENTRIES_FILE).symlink_to("/dev/full")
    with (
        BeancountTarget("books", main) as target,
        pytest.raises(RetryableError, match="disk is full") as caught,
    ):
        target.write([entry(1)])
    assert ENTRIES_FILE in str(caught.value)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Assets:Bank:Checking", None),
        ("Liabilities:VAT:DE19", None),
        ("Equity:Opening-Balances", None),
        ("Income:2024:Sales", None),
        ("Expenses:Café", None),
        ("Assets:Ümlaute", None),
        ("", "empty"),
        ("Assets", "at least one component"),
        ("Revenue:Sales", "must be one of Assets, Liabilities, Equity, Income, Expenses"),
        ("assets:Bank", "must be one of"),
        ("Assets:bank", "must start with an upper-case letter or a digit"),
        ("Assets:-Bank", "must start with an upper-case letter or a digit"),
        ("Assets:éBank", "must start with an upper-case letter or a digit"),
        ("Assets:Bank Account", "contains a space"),
        ("Assets::Bank", "empty component"),
        ("Assets:Bank:", "empty component"),
        ("Assets:Bank_EUR", "contains '_'"),
        ("Assets:Bank.EUR", "contains '.'"),
        ("Assets:Bank/EUR", "contains '/'"),
    ],
)
def test_account_problem(tmp_path: Path, name: str, reason: str | None) -> None:
    problem = account_problem(name)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None
        assert reason in problem
    if name and " " not in name:  # the real parser agrees
        ledger = tmp_path / "one.beancount"
        ledger.write_text(f"2024-01-01 open {name}\n", encoding="utf-8")
        loaded, errors = load(ledger)
        accepted = not errors and [e.account for e in loaded] == [name]
        assert accepted == (reason is None)


def test_bean_check_is_installed() -> None:
    assert Path(BEAN_CHECK).exists() or shutil.which("bean-check")
