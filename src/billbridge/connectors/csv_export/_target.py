"""Export files: one new CSV per run, and a manifest that makes every write exactly-once.

The manifest (`.billbridge-export.jsonl`, billbridge's own file in the export folder)
gets one line per write: the CSV file, the byte offset where the write ended, and the
idempotency keys it holds. Both files are fsynced at `flush`, CSV first; the manifest's
size is the position the engine commits. After a kill, `recover` reads the manifest past
the committed position (those keys are in a file: they are recorded, never exported
again), drops a torn manifest line, and cuts every CSV back to the end its last manifest
line records, so rows whose write was never recorded are never left behind to be
imported and then exported a second time.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import orjson

from billbridge.connectors._files import append_whole
from billbridge.connectors.base import (
    FatalError,
    LedgerLeg,
    PositionMismatchError,
    Recovered,
    RetryableError,
    Written,
)
from billbridge.domain import JournalEntry

from ._formats import FORMATS

__all__ = ["MANIFEST", "CsvExportTarget", "exported_keys"]

MANIFEST: Final = ".billbridge-export.jsonl"
_NOT_IN_LAYOUT: Final = "not part of this export layout"


@contextlib.contextmanager
def _retryable(action: str, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise RetryableError(f"cannot {action} {path}: {reason}") from exc


def _csv_text(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


@dataclass(frozen=True, slots=True)
class _Write:
    """One manifest line: `keys` landed in `file` from line `line`; the file ended at `end`.

    `books` holds, per key, what the entry does to the books (date, version, legs), so
    that `recover` can give it back (an export layout may keep none of it in its rows).
    Lines written before billbridge kept it have none.
    """

    file: str
    end: int
    line: int
    keys: tuple[str, ...]
    books: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.file}:{self.line}" if self.file else _NOT_IN_LAYOUT


def _read_manifest(path: Path, start: int = 0) -> tuple[list[_Write], int]:
    """Complete manifest lines from byte `start`, and where the last complete one ends."""
    if not path.exists():
        return [], 0
    with path.open("rb") as handle:
        handle.seek(start)
        data = handle.read()
    end = data.rfind(b"\n") + 1
    lines = []
    for raw in data[:end].splitlines():
        if raw.strip():
            item = orjson.loads(raw)
            lines.append(
                _Write(
                    file=str(item["file"]),
                    end=int(item["end"]),
                    line=int(item["line"]),
                    keys=tuple(str(k) for k in item["keys"]),
                    books=item.get("books") or {},
                )
            )
    return lines, start + end


def _books(entry: JournalEntry) -> list[Any]:
    """What the entry does to the books, as a manifest line keeps it (exact decimal text)."""
    legs = [[p.account, f"{p.amount.amount:f}", p.amount.currency] for p in entry.postings]
    return [entry.date.isoformat(), entry.version, legs]


def _recovered(ref: str, books: list[Any]) -> Recovered:
    day, version, legs = books
    return Recovered(
        ref=ref,
        date=date.fromisoformat(day),
        legs=tuple(
            LedgerLeg(account=str(a), amount=Decimal(str(n)), currency=str(c)) for a, n, c in legs
        ),
        version=str(version),
    )


def exported_keys(folder: Path) -> Counter[str]:
    """How many manifest writes in `folder` hold each idempotency key (exactly-once checks)."""
    lines, _end = _read_manifest(Path(folder) / MANIFEST)
    return Counter(key for line in lines for key in line.keys)


class CsvExportTarget:
    """Writes `format` CSV files into `folder`; the first write of a run creates its file."""

    # a failed write's rows are cut back with its manifest line (see `write`)
    all_or_nothing = True

    def __init__(
        self, name: str, folder: Path, format: str, *, tax_type: str | None = None
    ) -> None:
        if format not in FORMATS:
            raise FatalError(f"unknown export format {format!r} (known: {', '.join(FORMATS)})")
        self.name = name
        self.folder = Path(folder)
        self.format = FORMATS[format]
        self.tax_type = tax_type or ""
        self.manifest = self.folder / MANIFEST
        self._file: Path | None = None
        self._fd = -1
        self._size = 0
        self._lines = 0
        with _retryable("open", self.manifest):
            self.folder.mkdir(parents=True, exist_ok=True)
            self._mfd = os.open(self.manifest, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._mfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._mfd)
            raise RetryableError(
                f"{self.manifest} is locked by another billbridge process; "
                "it is retried when that process finishes"
            ) from None
        self._index: dict[str, str] = {}
        self._ends: dict[str, int] = {}
        self._load(0)

    def _load(self, start: int) -> None:
        for line in _read_manifest(self.manifest, start)[0]:
            for key in line.keys:
                self._index.setdefault(key, line.ref)
            if line.file:
                self._ends[line.file] = line.end

    # -- the TargetConnector protocol ----------------------------------------------------

    def render(self, entries: Sequence[JournalEntry]) -> str:
        rows = [row for entry in entries for row in self.format.rows(entry, self.tax_type)]
        return _csv_text([self.format.columns, *rows]).decode()

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        """Append the entries' rows to this run's file and record them in the manifest.

        An entry the manifest already holds is skipped (its file is named in the ref);
        an entry outside the layout (a payment in a sales-invoice export) is recorded
        with no rows, so it is never offered again.
        """
        refs: list[str] = []
        new: list[JournalEntry] = []
        for entry in entries:
            if entry.key in self._index:
                refs.append(self._index[entry.key])
            else:
                new.append(entry)
        rows = [row for entry in new for row in self.format.rows(entry, self.tax_type)]
        if not new:
            return Written(ref=", ".join(refs), position=self._manifest_size())
        write = _Write(file="", end=0, line=0, keys=tuple(e.key for e in new))
        before = (self._size, self._lines)
        if rows:
            file = self._open_file()
            before = (self._size, self._lines)  # a new file starts with its header
            first_line = self._lines + 1
            data = _csv_text(rows)
            with _retryable("append to", file):
                append_whole(self._fd, data, self._size, file)
            self._size += len(data)
            self._lines += len(rows)
            write = _Write(file=file.name, end=self._size, line=first_line, keys=write.keys)
        try:
            size = self._record(write, new)
        except RetryableError:
            if rows and self._file is not None:  # rows no manifest line records: cut them
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, before[0])
                self._size, self._lines = before
            raise
        for entry in new:
            self._index[entry.key] = write.ref
        refs.append(write.ref)
        return Written(ref=", ".join(refs), position=size)

    def _record(self, write: _Write, new: Sequence[JournalEntry]) -> int:
        """Append the manifest line of `write`; return the manifest's size after it."""
        line = orjson.dumps(
            {
                "file": write.file,
                "end": write.end,
                "line": write.line,
                "keys": write.keys,
                "books": {entry.key: _books(entry) for entry in new},
            }
        )
        with _retryable("append to", self.manifest):
            size = os.fstat(self._mfd).st_size
            append_whole(self._mfd, line + b"\n", size, self.manifest)
        return size + len(line) + 1

    def flush(self) -> int:
        """fsync the CSV, then the manifest; the manifest's size is the position."""
        if self._fd >= 0 and self._file is not None:
            with _retryable("sync", self._file):
                os.fsync(self._fd)
        with _retryable("sync", self.manifest):
            os.fsync(self._mfd)
        return self._manifest_size()

    def recover(self, committed_position: int) -> Mapping[str, Recovered | str]:
        size = self._manifest_size()
        if committed_position > size:
            raise PositionMismatchError(
                f"{self.manifest} is {size} bytes, shorter than the committed position "
                f"{committed_position}: it was truncated or replaced"
            )
        _lines, end = _read_manifest(self.manifest, committed_position)
        if end < size:
            with _retryable("repair", self.manifest):
                os.ftruncate(self._mfd, end)
                os.fsync(self._mfd)
        self._index, self._ends = {}, {}
        self._load(0)
        found: dict[str, Recovered | str] = {}
        for line in _read_manifest(self.manifest, committed_position)[0]:
            for key in line.keys:
                if key not in found:
                    books = line.books.get(key)
                    found[key] = _recovered(line.ref, books) if books else line.ref
        self._cut_unrecorded_rows()
        return found

    def _cut_unrecorded_rows(self) -> None:
        """Cut each export file back to what the manifest records; drop unrecorded files."""
        prefix = f"{self.format.name}-"
        for path in sorted(self.folder.glob(f"{prefix}*.csv")):
            if path == self._file:
                continue
            recorded = self._ends.get(path.name)
            with _retryable("repair", path):
                if recorded is None:
                    path.unlink()  # created by a run whose rows were never recorded
                elif path.stat().st_size > recorded:
                    with path.open("r+b") as handle:
                        handle.truncate(recorded)
                        os.fsync(handle.fileno())

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        return {key: self._index[key] for key in idempotency_keys if key in self._index}

    def close(self) -> None:
        for attr in ("_fd", "_mfd"):
            fd = getattr(self, attr)
            if fd >= 0:
                setattr(self, attr, -1)
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- internals ------------------------------------------------------------------------

    def _manifest_size(self) -> int:
        with _retryable("read", self.manifest):
            return os.fstat(self._mfd).st_size

    def _open_file(self) -> Path:
        """This run's file, created with the header row on the first write."""
        if self._file is not None:
            return self._file
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        for attempt in range(1000):
            path = self.folder / f"{self.format.name}-{stamp}-{attempt:03d}.csv"  # sorts by time
            try:
                with _retryable("create", path):
                    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            except RetryableError as exc:
                if isinstance(exc.__cause__, FileExistsError):
                    continue
                raise
            break
        else:
            raise FatalError(f"cannot find a free file name in {self.folder}")
        header = _csv_text([self.format.columns])
        with _retryable("write", path):
            append_whole(fd, header, 0, path)
        self._fd, self._file, self._size, self._lines = fd, path, len(header), 1
        return path
