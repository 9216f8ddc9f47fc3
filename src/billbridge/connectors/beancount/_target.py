"""`BeancountTarget`: append-only, crash-safe posting into a Beancount ledger.

Why append-only files beside the user's ledger: billbridge never rewrites a file a person
edits. The user's main file includes two files billbridge owns: `billbridge-accounts.beancount`
(`open` directives) and `billbridge.beancount` (entries). Each `write` appends one block
with a single `os.write` on an O_APPEND descriptor (no Python buffer a SIGKILL could cut in
half), and the block ends with `; billbridge-end <key>` plus a blank line, so `recover` can
tell a complete block from a torn one. `flush` fsyncs the accounts file first, then the
entries, and returns the byte size the engine commits with its postings.

Error kinds (what the engine does next): a write that cannot land (disk full, permission,
another billbridge holding the lock) is `RetryableError`; a main ledger that cannot be read
or does not include billbridge's files is `FatalError`; a bad account or metadata key in an
entry is `RecordError` (raised by rendering, before any byte is written).

The files themselves (creating, locking, the in-memory position, appending) are held by
the base class `LedgerFiles` in `_ledger_files`; this module is the protocol on top of
them, with the crash recovery that reads the entries file back.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from billbridge.connectors.base import (
    FatalError,
    LedgerPosting,
    PositionMismatchError,
    Recovered,
    Written,
)
from billbridge.domain import JournalEntry

from ._ledger_files import SEPARATOR, TAIL, LedgerFiles
from ._main import ACCOUNTS_FILE, ENTRIES_FILE
from ._main import retryable as _retryable
from ._read import read_postings
from ._render import END_PREFIX, render_entries
from ._scan import count_newlines, ends_at_boundary, scan_blocks

# SEPARATOR is re-exported: it was defined here, and tests read it from here.
__all__ = ["ACCOUNTS_FILE", "ENTRIES_FILE", "SEPARATOR", "BeancountTarget"]

_KEY_LINE: Final = b'  billbridge-key: "'
_END: Final = END_PREFIX.encode()
_DIGITS: Final = b"0123456789"


class BeancountTarget(LedgerFiles):
    """Appends journal entries to `billbridge.beancount` beside the main ledger `main`.

    The constructor opens the target (see `open`), so a target that exists is usable.
    One process at a time: an exclusive `flock` on the entries file guards the in-memory
    line number and offset that make `write` O(size of the block).
    """

    # a failed write is cut back (`append_whole`): nothing of it is left
    all_or_nothing = True

    # -- the TargetConnector protocol ----------------------------------------------------

    def render(self, entries: Sequence[JournalEntry]) -> str:
        """Exactly the block `write` would append for `entries`."""
        return render_entries(entries)

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        """Append one block; `ref` is `billbridge.beancount:<line of its first entry>`.

        Opens for new accounts are appended to the accounts file first, so a block never
        lands before the opens it needs. Durable only after `flush`.
        """
        self._require_open()
        if self._torn:
            raise FatalError(
                f"{self.entries_path} ends with an incomplete block (an interrupted write); "
                "billbridge must run recover() before writing more"
            )
        data = render_entries(entries).encode()
        if not data:
            return Written(ref=f"{ENTRIES_FILE}:{self._lines + 1}", position=self._offset)
        prefix = self._prefix
        line = self._lines + 1 + prefix.count(b"\n")
        ref = f"{ENTRIES_FILE}:{line}"
        accounts = [p.account for e in entries for p in e.postings]
        if not self._opened.issuperset(accounts):
            self._append_opens([a for a in dict.fromkeys(accounts) if a not in self._opened])
        self._append(prefix + data)
        self._prefix, self._boundary = b"", self._offset
        return Written(ref=ref, position=self._offset)

    def flush(self) -> int:
        """fsync the accounts file, then the entries; return the byte size to commit."""
        self._require_open()
        with _retryable("sync", self.accounts_path):
            os.fsync(self._accounts_fd)
        with _retryable("sync", self.entries_path):
            os.fsync(self._fd)
        return self._boundary

    def recover(self, committed_position: int) -> Mapping[str, Recovered]:
        """Every entry in a complete block after the position, as the file holds it.

        Reads only from `committed_position` on, after checking that the position is the
        end of a block (or 0), as `flush` returns it; otherwise the file and the state
        store disagree (`PositionMismatchError`, which says how to get out).

        What follows the position may also hold what a person added (blank lines, an
        entry pasted at the end): that is left as it is, for `reconcile` to report, and
        billbridge appends after it. A torn tail, the bytes of a write a crash cut short,
        is truncated away: bytes past the committed position that no complete block holds
        were never recorded as posted, so the engine writes them again. Opens missing for
        accounts used after the position are appended (the OS may have written the
        entries file back to disk before the accounts file).
        """
        self._require_open()
        if committed_position < 0:
            raise ValueError(f"committed_position must not be negative: {committed_position}")
        with _retryable("read", self.entries_path):
            size = os.fstat(self._fd).st_size
        if committed_position > size:
            if size == 0 and self.entries_path in self._created:  # nothing written here yet
                self._undo_create()
                raise FatalError(
                    f"connection {self.name!r}: billbridge has posted {committed_position:,} "
                    f"bytes of entries to its ledger, but there is none at {self.main.parent} "
                    "(was `path:` changed?). Nothing was written, and no file left there. "
                    f"Move main.beancount, {ENTRIES_FILE} and {ACCOUNTS_FILE} to "
                    f"{self.main.parent} (or put the old path back); for new, separate books "
                    "add a new connection and flow instead"
                )
            raise PositionMismatchError(
                f"{self.entries_path} is {size} bytes, shorter than the committed position "
                f"{committed_position}: it was truncated or replaced"
            )
        self._check_boundary(committed_position)
        found: dict[str, Recovered] = {}
        accounts: set[str] = set()
        end, end_line = committed_position, 0
        base = self._line_at(committed_position, size)
        with _retryable("read", self.entries_path), self.entries_path.open("rb") as file:
            for block in scan_blocks(file, committed_position, details=True):
                for entry in block.details:
                    found.setdefault(
                        entry.key,
                        Recovered(
                            ref=f"{ENTRIES_FILE}:{base + entry.line + 1}",
                            date=entry.date,
                            legs=entry.legs,
                            version=entry.version,
                        ),
                    )
                accounts |= block.accounts
                end, end_line = block.end, block.end_line
        keep = self._tail_kept(end, size)
        if keep < size:
            with _retryable("truncate", self.entries_path):
                os.ftruncate(self._fd, keep)
                os.fsync(self._fd)
        with _retryable("read", self.entries_path):
            self._lines = base + end_line + count_newlines(self._fd, end, keep)
            foreign = keep > end and not _blank(os.pread(self._fd, keep - end, end))
            self._prefix = self._gap(keep, foreign=foreign)
        self._offset, self._boundary, self._torn = keep, end, False
        self._opened = self._scan_opens(self._main_text(create=False))
        missing = sorted(accounts - self._opened)
        if missing:
            self._append_opens(missing)
            with _retryable("sync", self.accounts_path):
                os.fsync(self._accounts_fd)
        return found

    def _check_boundary(self, position: int) -> None:
        """The committed position must be the end of a block: else the file was edited
        (or replaced) before it, and what was posted cannot be told from what was not."""
        if position == 0:
            return
        with _retryable("read", self.entries_path):
            before = os.pread(self._fd, min(position, TAIL), position - min(position, TAIL))
        if not ends_at_boundary(before):
            last = before.rstrip(b"\n").rsplit(b"\n", 1)[-1][:80].decode("utf-8", "replace")
            raise PositionMismatchError(
                f"the committed position {position} in {self.entries_path} is not the end of "
                f"an entry billbridge wrote (the last line before it reads {last!r}): the "
                "file was changed before that position"
            )

    def _tail_kept(self, end: int, size: int) -> int:
        """How much of the file to keep after the last complete block, which ends at `end`.

        Whole lines that are not a billbridge block cut short (a person's entry or
        comment, blank lines) are kept. A tail that ends mid-line or holds NUL bytes is a
        write a crash cut short: it is cut back to where that write began (its separator
        line, else the block's first line), and only to there.
        """
        if end >= size:
            return size
        with _retryable("read", self.entries_path):
            tail = os.pread(self._fd, size - end, end)
        if tail.endswith(b"\n") and b"\0" not in tail:
            return size
        lines = tail.splitlines(keepends=True)
        starts = list(itertools.accumulate((len(x) for x in lines), initial=0))[:-1]
        for start, line in zip(reversed(starts), reversed(lines), strict=True):
            if line.startswith(_END) or (not line.endswith(b"\n") and _END.startswith(line)):
                return end + start  # a separator billbridge began to write
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is not None and _starts_like_a_block(lines[first:]):
            return end + starts[first]
        if b"\0" in tail:
            cut = tail.index(b"\0")
            return end + tail.rfind(b"\n", 0, cut) + 1
        return size  # a person's last line without its newline: kept

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        """Which keys are in `billbridge.beancount` (a full scan: replay and reconcile only)."""
        wanted = set(idempotency_keys)
        found: dict[str, str] = {}
        if not wanted:
            return found
        with _retryable("read", self.entries_path), self.entries_path.open("rb") as file:
            for block in scan_blocks(file, 0):
                for key, line in block.entries:
                    if key in wanted and key not in found:
                        found[key] = f"{ENTRIES_FILE}:{line + 1}"
        return found

    def ledger_postings(self) -> Iterator[LedgerPosting]:
        """The `LedgerReader` protocol: billbridge's entries as the whole ledger holds them."""
        return read_postings(self.main)

    # -- internals ------------------------------------------------------------------------

    def _line_at(self, position: int, size: int) -> int:
        """Lines before byte `position`, from the in-memory count when it still holds."""
        with _retryable("read", self.entries_path):
            if size == self._offset:
                return self._lines - count_newlines(self._fd, position, size)
            return count_newlines(self._fd, 0, position)


def _blank(data: bytes) -> bool:
    return not data.strip()


def _starts_like_a_block(lines: list[bytes]) -> bool:
    """True when `lines` begin as billbridge's blocks do: a date, then `billbridge-key`."""
    if not lines or lines[0][:1] not in _DIGITS:
        return False
    return len(lines) == 1 or lines[1].startswith(_KEY_LINE) or _KEY_LINE.startswith(lines[1])
