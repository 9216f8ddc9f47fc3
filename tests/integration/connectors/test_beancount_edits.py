"""What follows the committed position in `billbridge.beancount`: a person's lines, kept;
billbridge's own write cut short by a crash, cut back exactly to where it began."""

from __future__ import annotations

from pathlib import Path

import pytest

from billbridge.connectors.base import PositionMismatchError
from billbridge.connectors.beancount import ENTRIES_FILE, BeancountTarget, posted_keys
from billbridge.connectors.beancount._target import SEPARATOR

from .test_beancount import bean_check, entry

PERSON = (
    '2024-02-01 * "Office rent"\n'
    "  Expenses:Rent                          100.00 EUR\n"
    "  Assets:Bank:Checking                  -100.00 EUR\n"
)
OPENS = "2020-01-01 open Expenses:Rent\n2020-01-01 open Assets:Bank:Checking\n"


@pytest.fixture
def main(tmp_path: Path) -> Path:
    path = tmp_path / "books" / "main.beancount"
    with BeancountTarget("books", path):
        pass
    with path.open("a") as handle:
        handle.write(OPENS)
    return path


def _append(main: Path, data: bytes) -> None:
    with (main.parent / ENTRIES_FILE).open("ab") as handle:
        handle.write(data)


def test_blank_lines_after_the_committed_position_are_not_corruption(main: Path) -> None:
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        committed = target.flush()
    _append(main, b"\n\n  \n")
    with BeancountTarget("books", main) as target:
        assert target.recover(committed) == {}
        target.write([entry(2)])
        assert target.recover(target.flush()) == {}
    bean_check(main)
    assert posted_keys(main) == {entry(1).key: 1, entry(2).key: 1}


@pytest.mark.parametrize("newline", [True, False])
def test_a_persons_entry_is_kept_and_billbridge_writes_after_it(main: Path, newline: bool) -> None:
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        committed = target.flush()
    _append(main, ("\n" + PERSON).encode()[: None if newline else -1])
    with BeancountTarget("books", main) as target:
        assert target.recover(committed) == {}
        written = target.write([entry(2)])
        position = target.flush()
        assert target.recover(position) == {}
    lines = (main.parent / ENTRIES_FILE).read_text().splitlines()
    assert lines[int(written.ref.split(":")[1]) - 1].startswith("2024-03-05 *")
    assert PERSON.rstrip("\n") in "\n".join(lines)
    bean_check(main)
    # and the position after billbridge's block is one the next run accepts
    with BeancountTarget("books", main) as target:
        assert target.recover(position) == {}


def test_a_torn_write_after_a_persons_lines_is_cut_back_to_its_own_start(main: Path) -> None:
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        committed = target.flush()
    _append(main, ("\n" + PERSON).encode())
    before = (main.parent / ENTRIES_FILE).read_bytes()
    kept = len(before)
    with BeancountTarget("books", main) as target:
        target.recover(committed)
        target.write([entry(2), entry(3)])  # the first block after them: with its separator
    size = (main.parent / ENTRIES_FILE).stat().st_size
    for cut in (3, (size - kept) // 2):  # inside the separator, inside the block
        with (main.parent / ENTRIES_FILE).open("r+b") as handle:
            handle.truncate(kept + cut)
        with BeancountTarget("books", main) as target:
            assert target.recover(committed) == {}
            left = (main.parent / ENTRIES_FILE).read_bytes()
            # the person's lines stay; of billbridge's write only a whole separator may
            assert left in {before, before + SEPARATOR}
            target.write([entry(2), entry(3)])
    # cut after the terminator, before its blank line: whole, so found (and kept)
    size = (main.parent / ENTRIES_FILE).stat().st_size
    with (main.parent / ENTRIES_FILE).open("r+b") as handle:
        handle.truncate(size - 1)
    with BeancountTarget("books", main) as target:
        assert set(target.recover(committed)) == {entry(2).key, entry(3).key}
    bean_check(main)
    assert posted_keys(main) == {entry(n).key: 1 for n in (1, 2, 3)}


def test_a_torn_block_and_zeros_at_a_clean_end_are_cut(main: Path) -> None:
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        committed = target.flush()
        block = target.render([entry(2)]).encode()
    _append(main, block[:40] + b"\0" * 100)
    with BeancountTarget("books", main) as target:
        assert target.recover(committed) == {}
    assert (main.parent / ENTRIES_FILE).stat().st_size == committed
    bean_check(main)


def test_an_edit_before_the_committed_position_is_refused_with_the_way_out(main: Path) -> None:
    with BeancountTarget("books", main) as target:
        target.write([entry(1)])
        target.write([entry(2)])
        committed = target.flush()
    path = main.parent / ENTRIES_FILE
    path.write_bytes(path.read_bytes().replace(b"Globex Corp", b"Globex", 1))
    with BeancountTarget("books", main) as target, pytest.raises(PositionMismatchError):
        target.recover(committed)
