"""`LedgerFiles`: the two files billbridge owns beside a Beancount ledger, held open.

Its own module because opening, locking and appending are one job and recovery is
another: this base class creates the files, checks that the main ledger includes them,
takes the exclusive `flock`, keeps the in-memory line count and offset, and appends
whole blocks and `open` lines. `BeancountTarget` (in `_target`) builds the target
protocol on it: rendering, writing, flushing, and `recover`, which reads back and cuts
torn tails, the part of this connector that needs the most careful reading on its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from billbridge.connectors._files import append_whole
from billbridge.connectors.base import FatalError, RetryableError

from ._main import ACCOUNTS_FILE, ENTRIES_FILE, main_text
from ._main import retryable as _retryable
from ._render import END_PREFIX
from ._scan import count_newlines, ends_at_boundary, included_files, opened_accounts

__all__ = ["OPEN_DATE", "SEPARATOR", "TAIL", "LedgerFiles"]

# Written before the first block that follows lines a person added to the end of the
# file: a terminator of its own, so those lines end a block and a later torn write of
# billbridge's can be cut back exactly to where it began.
SEPARATOR: Final = (END_PREFIX + "(the lines above were not written by billbridge)\n\n").encode()
OPEN_DATE: Final = "1970-01-01"
TAIL: Final = 65536  # enough to hold the last terminator line (keys are short)


class LedgerFiles:
    """The entries and accounts files of one Beancount target, open and locked.

    The constructor opens them (see `open`). Subclasses add what is written and read.
    """

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
            chunk = os.pread(self._accounts_fd, min(size, TAIL), max(0, size - TAIL))
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
        start = max(0, self._offset - TAIL)
        return ends_at_boundary(os.pread(self._fd, self._offset - start, start))

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

    def _gap(self, size: int, *, foreign: bool) -> bytes:
        """What to write before the next block, so that blocks stay apart by a blank line
        and lines a person added at the end are closed by a separator line."""
        last = os.pread(self._fd, min(size, 2), size - min(size, 2)) if size else b"\n\n"
        newline = b"" if last.endswith(b"\n") else b"\n"
        if foreign:
            return newline + SEPARATOR
        return b"" if last == b"\n\n" else newline + b"\n"
