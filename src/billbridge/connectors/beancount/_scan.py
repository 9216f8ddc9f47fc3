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
from pathlib import Path
from typing import BinaryIO, Final

from ._render import END_PREFIX, IDEM_PREFIX, unescape

__all__ = ["Block", "count_newlines", "included_files", "opened_accounts", "scan_blocks"]

_OPEN: Final = re.compile(r"^\d{4}-\d{2}-\d{2}\s+open\s+(\S+)", re.MULTILINE)
_INCLUDE: Final = re.compile(r'^include\s+"([^"]+)"', re.MULTILINE)
_CHUNK: Final = 1 << 20
_END: Final = END_PREFIX.encode()
_IDEM: Final = IDEM_PREFIX.encode()
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
class Block:
    """One complete block found by a scan: its entries and the accounts they post to.

    `entries` holds (idempotency key, line of the entry's first line, counted from the
    scan's start: 0 is the first line scanned). `end` is the byte offset after the block,
    `end_line` the number of lines from the scan's start to that offset.
    """

    entries: list[tuple[str, int]] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)
    end: int = 0
    end_line: int = 0


class NotABlockStartError(ValueError):
    """The scan's first line is not the first line of an entry."""


def scan_blocks(file: BinaryIO, start: int) -> Iterator[Block]:
    """Complete blocks from byte `start` on; a torn tail yields nothing.

    A block is complete when its `; billbridge-end` line and the blank line after it are
    both present. Nothing before `start` is read.
    """
    file.seek(start)
    offset = start
    line_no = 0
    block = Block()
    header = -1
    after_end = False
    for line in file:
        size = len(line)
        if not line.endswith(b"\n"):
            return  # a torn last line: the block it belongs to is incomplete
        if line_no == 0 and line[0] not in _DIGITS:
            raise NotABlockStartError(line[:80].decode("utf-8", "replace"))
        offset += size
        line_no += 1
        if after_end:
            after_end = False
            if line == b"\n":
                block.end, block.end_line = offset, line_no
                yield block
                block, header = Block(), -1
                continue
            return  # a terminator without its blank line: torn
        first = line[0]
        if first in _DIGITS:
            header = line_no - 1
        elif line.startswith(_IDEM):
            key = line[len(_IDEM) :].rstrip(b"\n").removesuffix(b'"')
            block.entries.append((unescape(key.decode("utf-8", "replace")), header))
        elif first == 0x20 and size > 2 and 0x41 <= line[2] <= 0x5A:  # "  Assets:…" etc.
            block.accounts.add(line.split(None, 1)[0].decode("utf-8", "replace"))
        elif line.startswith(_END):
            after_end = True
