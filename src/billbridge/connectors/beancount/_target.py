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
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from billbridge.connectors._files import append_whole
from billbridge.connectors.base import (
    FatalError,
    LedgerPosting,
    PositionMismatchError,
    Recovered,
    RetryableError,
    Written,
)
from billbridge.domain import JournalEntry

from ._main import ACCOUNTS_FILE, ENTRIES_FILE, main_text
from ._main import retryable as _retryable
from ._read import read_postings
from ._render import END_PREFIX, render_entries
from ._scan import count_newlines, ends_at_boundary, included_files, opened_accounts, scan_blocks

__all__ = ["ACCOUNTS_FILE", "ENTRIES_FILE", "BeancountTarget"]

# Written before the first block that follows lines a person added to the end of the
# file: a terminator of its own, so those lines end a block and a later torn write of
# billbridge's can be cut back exactly to where it began.
SEPARATOR: Final = (END_PREFIX + "(the lines above were not written by billbridge)\n\n").encode()
_KEY_LINE: Final = b'  billbridge-key: "'
_END: Final = END_PREFIX.encode()
OPEN_DATE: Final = "1970-01-01"
_TAIL: Final = 65536  # enough to hold the last terminator line (keys are short)
_DIGITS: Final = b"0123456789"


class BeancountTarget:
    """Appends journal entries to `billbridge.beancount` beside the main ledger `main`.

    The constructor opens the target (see `open`), so a target that exists is usable.
    One process at a time: an exclusive `flock` on the entries file guards the in-memory
    line number and offset that make `write` O(size of the block).
    """

    # a failed write is cut back (`append_whole`): nothing of it is left
    all_or_nothing = True

    def __init__(self, name: str, main: Path) -> None:
        self.name = name
        self.main = Path(main)
        self.entries_path = self.main.parent / ENTRIES_FILE
        self.accounts_path = self.main.parent / ACCOUNTS_FILE
        self._fd = -1
        self._accounts_fd = -1
        self._offset = 0
        self._lines = 0
        self._opened: set[str] = set()
        self._torn = False
        self._boundary = 0  # the end of billbridge's last block: the position `flush` gives
        self._prefix = b""  # what goes before the next block (see `_gap`)
        self._created: list[Path] = []  # what this open() created, newest last
        self.open()

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Create missing files, check the includes, lock, and read the opened accounts.

        A missing main ledger is created with the two includes; an existing one must
        already include both files (billbridge never edits it), else `FatalError` says
        which line to add. Idempotent: a second call on an open target does nothing.
        """
        if self._fd >= 0:
            return
        folder = self.main.parent
        paths = (folder, self.main, self.accounts_path, self.entries_path)
        self._created = [p for p in paths if not p.exists()]
        main_text = self._main_text(create=True)
        self._check_includes(main_text)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT
        with _retryable("open", self.entries_path):
            self._fd = os.open(self.entries_path, flags, 0o644)
        try:
            self._lock()
            with _retryable("open", self.accounts_path):
                self._accounts_fd = os.open(self.accounts_path, flags, 0o644)
            self._repair_accounts_tail()
            with _retryable("read", self.entries_path):
                self._offset = os.fstat(self._fd).st_size
                self._lines = count_newlines(self._fd, 0, self._offset)
                self._torn = not self._ends_cleanly()
                self._boundary = self._offset
                self._prefix = self._gap(self._offset, foreign=False)
            self._opened = self._scan_opens(main_text)
        except BaseException:
            self.close()
            raise

    def _undo_create(self) -> None:
        """Close, and remove what this open() created (still empty, or the fresh main file
        with only its includes: `recover` runs before any write), so a refused open leaves
        nothing behind."""
        self.close()
        for path in reversed(self._created):
            with contextlib.suppress(OSError):
                if path.is_dir():
                    path.rmdir()  # only when empty
                elif path == self.main or path.stat().st_size == 0:
                    path.unlink()
        self._created = []

    def close(self) -> None:
        """Release the lock and the descriptors (unflushed bytes stay in the OS cache)."""
        for attr in ("_accounts_fd", "_fd"):
            fd = getattr(self, attr)
            if fd >= 0:
                setattr(self, attr, -1)
                with contextlib.suppress(OSError):
                    os.close(fd)  # closing drops the flock

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

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

    def _gap(self, size: int, *, foreign: bool) -> bytes:
        """What to write before the next block, so that blocks stay apart by a blank line
        and lines a person added at the end are closed by a separator line."""
        last = os.pread(self._fd, min(size, 2), size - min(size, 2)) if size else b"\n\n"
        newline = b"" if last.endswith(b"\n") else b"\n"
        if foreign:
            return newline + SEPARATOR
        return b"" if last == b"\n\n" else newline + b"\n"

    def _check_boundary(self, position: int) -> None:
        """The committed position must be the end of a block: else the file was edited
        (or replaced) before it, and what was posted cannot be told from what was not."""
        if position == 0:
            return
        with _retryable("read", self.entries_path):
            before = os.pread(self._fd, min(position, _TAIL), position - min(position, _TAIL))
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

    def _require_open(self) -> None:
        if self._fd < 0:
            raise FatalError(f"the Beancount target {self.name!r} is closed")

    def _main_text(self, *, create: bool) -> str:
        return main_text(self.main, self.name, create=create)

    def _check_includes(self, main_text: str) -> None:
        included = set(included_files(self.main, main_text))
        lines = [
            f'include "{name}"'
            for name, path in (
                (ACCOUNTS_FILE, self.accounts_path),
                (ENTRIES_FILE, self.entries_path),
            )
            if path.resolve() not in included
        ]
        if lines:
            raise FatalError(
                f"{self.main} does not include billbridge's files; add "
                + " and ".join(f"the line `{line}`" for line in lines)
                + f" to {self.main} (billbridge never edits your ledger itself)"
            )

    def _scan_opens(self, main_text: str) -> set[str]:
        """Accounts opened in main, the accounts file and the files main includes."""
        texts = [main_text]
        own = self.entries_path.resolve()
        for path in included_files(self.main, main_text):
            if path == own:
                continue
            try:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue  # a missing include is the loader's error to report, not ours
        return opened_accounts(texts)

    def _lock(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetryableError(
                f"{self.entries_path} is locked by another billbridge process; "
                "it is retried when that process finishes"
            ) from None
        except OSError as exc:
            raise RetryableError(f"cannot lock {self.entries_path}: {exc.strerror}") from exc

    def _repair_accounts_tail(self) -> None:
        """Drop a torn last line of the accounts file (our own file) so appends stay lines."""
        with _retryable("repair", self.accounts_path):
            size = os.fstat(self._accounts_fd).st_size
            if not size:
                return
            chunk = os.pread(self._accounts_fd, min(size, _TAIL), max(0, size - _TAIL))
            if chunk.endswith(b"\n"):
                return
            cut = chunk.rfind(b"\n")
            keep = (size - len(chunk) + cut + 1) if cut >= 0 else 0
            os.ftruncate(self._accounts_fd, keep)
            os.fsync(self._accounts_fd)

    def _ends_cleanly(self) -> bool:
        """True when the entries file is empty or ends with a block (its terminator line)."""
        if not self._offset:
            return True
        start = max(0, self._offset - _TAIL)
        return ends_at_boundary(os.pread(self._fd, self._offset - start, start))

    def _line_at(self, position: int, size: int) -> int:
        """Lines before byte `position`, from the in-memory count when it still holds."""
        with _retryable("read", self.entries_path):
            if size == self._offset:
                return self._lines - count_newlines(self._fd, position, size)
            return count_newlines(self._fd, 0, position)

    def _append_opens(self, accounts: list[str]) -> None:
        data = "".join(f"{OPEN_DATE} open {a}\n" for a in accounts).encode()
        with _retryable("append to", self.accounts_path):
            before = os.fstat(self._accounts_fd).st_size
            append_whole(self._accounts_fd, data, before, self.accounts_path)
        self._opened.update(accounts)

    def _append(self, data: bytes) -> None:
        with _retryable("append to", self.entries_path):
            append_whole(self._fd, data, self._offset, self.entries_path)
        self._offset += len(data)
        self._lines += data.count(b"\n")


def _blank(data: bytes) -> bool:
    return not data.strip()


def _starts_like_a_block(lines: list[bytes]) -> bool:
    """True when `lines` begin as billbridge's blocks do: a date, then `billbridge-key`."""
    if not lines or lines[0][:1] not in _DIGITS:
        return False
    return len(lines) == 1 or lines[1].startswith(_KEY_LINE) or _KEY_LINE.startswith(lines[1])
