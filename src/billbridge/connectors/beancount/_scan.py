"""Light line scans of ledger files: includes, opened accounts, and billbridge's blocks.

Why not the beancount loader: opening the target and recovering after a crash must stay
fast on a ledger of a million entries, and recovery must work from a byte offset without
parsing (or even reading) what lies before it. billbridge's own file is line-oriented by
construction (every string is escaped onto one line), so a byte-level line scan is exact.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, Final

from billbridge.connectors.base import LedgerLeg

from ._render import END_PREFIX, IDEM_PREFIX, VERSION_PREFIX, unescape

__all__ = [
    "Block",
    "Entry",
    "count_newlines",
    "ends_at_boundary",
    "included_files",
    "opened_accounts",
    "scan_blocks",
]

_OPEN: Final = re.compile(r"^\d{4}-\d{2}-\d{2}\s+open\s+(\S+)", re.MULTILINE)
_INCLUDE: Final = re.compile(r'^include\s+"([^"]+)"', re.MULTILINE)
_CHUNK: Final = 1 << 20
_END: Final = END_PREFIX.encode()
_IDEM: Final = IDEM_PREFIX.encode()
_VERSION: Final = VERSION_PREFIX.encode()
_DIGITS: Final = frozenset(b"0123456789")


def included_files(main: Path, text: str) -> list[Path]:
    """Files `main` includes (one level), resolved against its folder; globs expanded."""
    found: list[Path] = []
    for pattern in _INCLUDE.findall(text):
        path = Path(pattern)
        if not path.is_absolute():
            path = main.parent / path
        if glob.has_magic(str(path)):
            found.extend(Path(p) for p in sorted(glob.glob(str(path))))
        else:
            found.append(path)
    return [p.resolve() for p in found]


def opened_accounts(texts: Iterable[str]) -> set[str]:
    """Accounts with an `open` directive anywhere in `texts`."""
    opened: set[str] = set()
    for text in texts:
        opened.update(_OPEN.findall(text))
    return opened


def count_newlines(fd: int, start: int, end: int) -> int:
    """Newlines in bytes [start, end) of `fd`, read in 1 MiB chunks (no parsing)."""
    count = 0
    pos = start
    while pos < end:
        chunk = os.pread(fd, min(_CHUNK, end - pos), pos)
        if not chunk:
            break
        count += chunk.count(b"\n")
        pos += len(chunk)
    return count


@dataclass(slots=True)
class Entry:
    """One billbridge entry of a block, read back (only when a scan asks for details)."""

    key: str
    line: int  # of its header, counted from the scan's start
    date: date
    version: str
    legs: tuple[LedgerLeg, ...]


@dataclass(slots=True)
class Block:
    """One complete block found by a scan: its entries and the accounts they post to.

    `entries` holds (idempotency key, line of the entry's first line, counted from the
    scan's start: 0 is the first line scanned). `end` is the byte offset after the block,
    `end_line` the number of lines from the scan's start to that offset. `details` holds
    each entry's date, version and legs when the scan was asked for them.
    """

    entries: list[tuple[str, int]] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)
    end: int = 0
    end_line: int = 0
    details: list[Entry] = field(default_factory=list)


@dataclass(slots=True)
class _Open:
    """The entry being read: its header line, date and what follows it."""

    line: int
    day: bytes
    key: str = ""
    version: str = ""
    legs: list[bytes] = field(default_factory=list)


def scan_blocks(file: BinaryIO, start: int, *, details: bool = False) -> Iterator[Block]:
    """Complete blocks from byte `start` on; a torn tail yields nothing.

    A block is complete at its `; billbridge-end` line; the blank line billbridge writes
    after it belongs to the block when it is there. Lines before a terminator that are
    not billbridge's (blank lines, a person's entry or comment) belong to the block they
    precede and are otherwise ignored. Nothing before `start` is read.
    """
    file.seek(start)
    offset = start
    line_no = 0
    block = Block()
    header = -1
    entry: _Open | None = None
    done: Block | None = None  # a block whose terminator was read, waiting for its blank line
    for line in file:
        if done is not None:
            if line == b"\n":
                offset += 1
                line_no += 1
                done.end, done.end_line = offset, line_no
                yield done
                done = None
                continue
            yield done
            done = None
        if not line.endswith(b"\n"):
            return  # a torn last line: the block it belongs to is incomplete
        offset += len(line)
        line_no += 1
        first = line[0]
        if first in _DIGITS:
            _close(entry, block)
            entry = _Open(line=line_no - 1, day=line[:10]) if details else None
            header = line_no - 1
        elif line.startswith(_IDEM):
            key = unescape(
                line[len(_IDEM) :].rstrip(b"\n").removesuffix(b'"').decode("utf-8", "replace")
            )
            block.entries.append((key, header))
            if entry is not None:
                entry.key = key
        elif first == 0x20 and len(line) > 2 and 0x41 <= line[2] <= 0x5A:  # "  Assets:…" etc.
            block.accounts.add(line.split(None, 1)[0].decode("utf-8", "replace"))
            if entry is not None:
                entry.legs.append(line)
        elif entry is not None and line.startswith(_VERSION):
            entry.version = unescape(
                line[len(_VERSION) :].rstrip(b"\n").removesuffix(b'"').decode("utf-8", "replace")
            )
        elif line.startswith(_END):
            _close(entry, block)
            entry = None
            block.end, block.end_line = offset, line_no
            done, block, header = block, Block(), -1
    if done is not None:
        yield done


def _close(found: _Open | None, block: Block) -> None:
    """Add the entry just read to the block's details (one a person typed that cannot be
    read back, e.g. with a leg left for Beancount to fill in, is left out)."""
    if found is None or not found.key:
        return
    try:
        day = date.fromisoformat(found.day.decode("ascii", "replace"))
        legs = tuple(_leg(line) for line in found.legs)
    except (ValueError, ArithmeticError, IndexError):
        return
    block.details.append(
        Entry(key=found.key, line=found.line, date=day, version=found.version, legs=legs)
    )


def _leg(line: bytes) -> LedgerLeg:
    """`  Account   100.00 USD @@ 91.00 EUR` → the amount the leg weighs in the books."""
    parts = line.decode("utf-8", "replace").split()
    account, number, currency = parts[0], Decimal(parts[1]), parts[2]
    if len(parts) >= 6 and parts[3] == "@@":  # a converted leg: its weight is the total price
        number, currency = Decimal(parts[4]).copy_sign(number), parts[5]
    return LedgerLeg(account=account, amount=number, currency=currency)


def ends_at_boundary(before: bytes) -> bool:
    """True when `before` (the bytes before a position) ends right after a block.

    That is: its last line, or the line before a final blank line, is a block's
    `; billbridge-end` line. A committed position always is such a place (or 0).
    """
    if not before.endswith(b"\n"):
        return False
    body = before[:-1]
    if body.endswith(b"\n"):
        body = body[:-1]  # the blank line after the terminator
    return body.rsplit(b"\n", 1)[-1].startswith(_END)
