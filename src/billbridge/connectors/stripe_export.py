"""Read a Stripe export: JSONL files of Stripe API objects, one object per line.

Why a file source: the "manual export/import" path, backfills and the 1M-record
benchmark all start from files, and they must stream in constant memory. The cursor is
a byte offset, so a resumed run seeks straight to where the last commit stood instead
of re-reading the file. A bad line becomes one error record (the run goes on); a
missing file stops the run.

Cursor format: `"<offset>"` for a single file; `"<file name>:<offset>"` for a directory
of `*.jsonl` files read in name order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .base import FatalError, RawRecord

__all__ = ["StripeExportSource"]

_CHUNK = 1 << 20


def _count_newlines(handle: Any, end: int) -> int:
    """Newlines in the first `end` bytes, counted in 1 MiB chunks."""
    count = 0
    remaining = end
    while remaining > 0:
        chunk = handle.read(min(_CHUNK, remaining))
        if not chunk:
            break
        count += chunk.count(b"\n")
        remaining -= len(chunk)
    return count


def _at_line_start(handle: BinaryIO, offset: int) -> bool:
    """True when byte `offset` starts a line of the file (a resumed read lands there).

    An export rewritten while a run was interrupted (a new export, a corrected line) no
    longer has a line start at the cursor; resuming there would read half a line as an
    unreadable record. A snapshot source may always read the whole file again instead:
    records already processed are found unchanged by their content hash.
    """
    size = handle.seek(0, 2)
    if offset >= size:
        return offset == size  # the end (a last line without its newline ends there too)
    handle.seek(offset - 1)
    ok = handle.read(1) == b"\n"
    handle.seek(0)
    return ok


def _record(raw: bytes, line: int, position: str) -> RawRecord:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _bad(raw, line, position, f"not JSON ({exc})")
    if type(data) is not dict:
        return _bad(raw, line, position, f"a JSON {type(data).__name__}, not an object")
    obj = data.get("object")
    ident = data.get("id")
    if type(obj) is not str or not obj:
        return _bad(raw, line, position, "the object has no `object` field")
    if type(ident) is not str or not ident:
        return _bad(raw, line, position, f"the {obj} has no `id` field")
    return RawRecord(object=obj, id=ident, data=data, raw=raw, position=position, line=line)


def _bad(raw: bytes, line: int, position: str, what: str) -> RawRecord:
    file, _, _ = position.rpartition(":")  # in a folder of exports: which file
    return RawRecord(
        object="unknown",
        id=f"{file}-line-{line}" if file else f"line-{line}",
        data={},
        raw=raw,
        position=position,
        line=line,
        error=f"{file}, line {line}: {what}" if file else f"line {line}: {what}",
    )


class StripeExportSource:
    """A SourceConnector over one JSONL file or a directory of them."""

    snapshot = True  # an export is a full snapshot: every run reads it whole

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = Path(path)

    def size(self) -> int | None:
        """Bytes of a single export file, for a progress bar with an ETA (None: a folder)."""
        try:
            return self.path.stat().st_size if self.path.is_file() else None
        except OSError:
            return None

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.glob("*.jsonl") if p.is_file())
        if not self.path.exists():
            raise FatalError(f"Stripe export {self.path} does not exist")
        return [self.path]

    def read(self, cursor: str | None) -> Iterator[RawRecord]:
        """Records after `cursor` (a byte offset, or `file:offset` for a directory)."""
        files = self._files()
        is_dir = self.path.is_dir()
        start_file, offset = "", 0
        if cursor:
            name, _, number = cursor.rpartition(":") if is_dir else ("", "", cursor)
            try:
                offset = int(number)
            except ValueError:
                raise FatalError(f"bad cursor {cursor!r} for {self.path}") from None
            start_file = name
        for path in files:
            if is_dir and start_file:
                if path.name < start_file:
                    continue
                file_offset = offset if path.name == start_file else 0
            else:
                file_offset = offset
            yield from self._read_file(path, file_offset, prefix=f"{path.name}:" if is_dir else "")

    def read_again(self, obj: str, ident: str) -> RawRecord | None:
        """An unreadable line read again (`line-12`, or `file.jsonl-line-12` in a folder):
        what it holds now; None when the file has no such line any more. Other records
        are in the state store and never need this."""
        if obj != "unknown":
            return None
        name, _, number = ident.rpartition("line-")
        name = name.removesuffix("-")
        if not number.isdigit():
            return None
        path = self.path / name if name else self.path
        if name and (not self.path.is_dir() or path.parent != self.path):
            return None
        if not path.is_file():
            return None
        wanted = int(number)
        prefix = f"{path.name}:" if name else ""
        with path.open("rb") as handle:
            position = 0
            for line, raw in enumerate(handle, start=1):
                position += len(raw)
                if line == wanted:
                    body = raw.strip()
                    if not body:
                        return None
                    return _record(body, line, f"{prefix}{position}")
        return None

    def _read_file(self, path: Path, offset: int, *, prefix: str) -> Iterator[RawRecord]:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise FatalError(f"Stripe export {path} does not exist") from None
        except OSError as exc:
            raise FatalError(f"cannot open Stripe export {path}: {exc}") from None
        with handle:
            if offset and not _at_line_start(handle, offset):
                offset = 0  # the file was replaced since the cursor was taken: read it all
            line = _count_newlines(handle, offset) if offset else 0
            handle.seek(offset)
            position = offset
            for raw in handle:
                line += 1
                position += len(raw)
                body = raw.strip()
                if not body:
                    continue
                yield _record(body, line, f"{prefix}{position}")
