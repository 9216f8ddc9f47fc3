"""The files source: one export file, a folder read whole, or an inbox folder.

Three shapes of one source (`FilesConnection.path` and `archive`):

- **one file** (a register re-exported in place): every run reads it whole (a
  snapshot); an unchanged record is skipped by its version, an edited one is a new
  version, a vanished one is reported by `billbridge reconcile`. A file that cannot be
  read (a required column missing) stops the run: that is a configuration error.
- **a folder, `archive: false`**: the same, over every .csv / .xlsx file in it (name
  order); a file that cannot be read fails alone, as one record.
- **an inbox** (a folder, the default): each run reads the files waiting in it; once the
  run has committed, `settle` moves each file it read to `done/` (every record posted,
  or held for a related record) or `failed/` (a record failed or conflicts) with a
  report beside it (`<file>.report.json`: what posted where, what failed and why). A
  full read (`read(None)`: a first sync, `--backfill`, `reconcile`) takes the archived
  files too, oldest first, so what the inbox once held is still the source's word.

Crash safety needs nothing of its own: a file whose run committed but was not moved is
read again by the next run, its records are `unchanged`, and then it is moved.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from billbridge.connectors.base import FatalError, RawRecord, RecordStates

from ._config import FilesConnection
from ._read import FileProblem, build_records, read_table
from ._report import settle_file

__all__ = ["ARCHIVES", "FilesSource"]

ARCHIVES = ("done", "failed")
_SUFFIXES = (".csv", ".xlsx")
_INBOX = "inbox"


@dataclass(slots=True)
class _Read:
    """One file read by the current pass: its records' keys and lines, and its stat."""

    keys: list[tuple[str, list[int]]] = field(default_factory=list)
    stat: tuple[int, int] = (0, 0)


def _data_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in _SUFFIXES and not p.name.startswith((".", "~$"))
    )


class FilesSource:
    """A `SourceConnector` (and `SettlingSource`, for an inbox) over CSV / XLSX exports."""

    def __init__(self, name: str, conn: FilesConnection) -> None:
        self.name = name
        self.conn = conn
        self.path = Path(conn.path)
        self._layouts = conn.layouts()
        self._read: dict[Path, _Read] = {}
        # Whether processed files are moved out of the folder (see the module docstring).
        self.inbox = conn.archive and self.path.is_dir()
        self.snapshot = not self.inbox

    def _files(self, *, full: bool) -> list[Path]:
        if self.path.is_dir():
            if not self.inbox:
                return _data_files(self.path)
            archived = [p for sub in ARCHIVES for p in _data_files(self.path / sub)] if full else []
            return sorted(archived, key=lambda p: p.name) + _data_files(self.path)
        if not self.path.exists():
            raise FatalError(f"{self.path} does not exist (connection {self.name!r})")
        return [self.path]

    def read(self, cursor: str | None) -> Iterator[RawRecord]:
        """Every record of the files; an inbox's archived files only on a full read (None)."""
        self._read = {}
        for path in self._files(full=cursor is None):
            name = path.relative_to(self.path).as_posix() if self.path.is_dir() else path.name
            position = _INBOX if self.inbox else name
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # gone since the folder was listed
            try:
                table = read_table(
                    path,
                    encoding=self.conn.encoding,
                    delimiter=self.conn.delimiter,
                    sheet=self.conn.sheet,
                    layouts=self._layouts,
                )
                records = build_records(
                    path,
                    name,
                    table,
                    self._layouts,
                    position=position,
                    currency=self.conn.currency is not None,
                )
            except FileProblem as problem:
                if not self.path.is_dir():
                    raise FatalError(str(problem)) from None
                records = [
                    RawRecord(
                        object="file",
                        id=name,
                        data={},
                        raw=str(problem).encode(),
                        position=position,
                        error=str(problem),
                    )
                ]
            yield from records
            seen = _Read(stat=(stat.st_size, stat.st_mtime_ns))
            seen.keys = [
                (f"{self.name}:{r.object}:{r.id}", list(r.data.get("lines") or [r.line]))
                for r in records
            ]
            self._read[path] = seen

    def settle(self, states: RecordStates) -> None:
        """Move each inbox file this pass read in full to done/ or failed/, with its report.

        A file changed since it was read (still being copied in) stays for the next run.
        A file that cannot be moved stops with a message naming it; its records are
        committed, so the next run finds them unchanged and tries again.
        """
        if not self.inbox:
            return
        problems = []
        for path, seen in list(self._read.items()):
            if path.parent != self.path:
                continue  # an archived file, read again by a full read
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if (stat.st_size, stat.st_mtime_ns) != seen.stat:
                continue
            try:
                settle_file(
                    path, seen.keys, states(tuple(k for k, _ in seen.keys)), connection=self.name
                )
            except OSError as exc:
                problems.append(f"{path.name}: {exc.strerror or exc}")
        self._read = {}
        if problems:
            raise FatalError(
                "could not move processed files out of the inbox "
                f"({'; '.join(problems)}); they stay there and are moved by the next run"
            )
