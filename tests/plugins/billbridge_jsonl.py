"""A third-party connector, as a plugin package would ship it: journal entries as JSON lines.

Not imported from here: `tests/plugins/__init__.py` copies this file into a temporary
folder beside a `billbridge_jsonl-0.1.0.dist-info` whose `entry_points.txt` registers
`jsonl-file` in the group `billbridge.connectors`, and puts that folder on sys.path.
It uses only billbridge's public plugin API: `ConnectionConfig`, `ConnectorSpec`, the
target protocol's types and its errors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Literal

from billbridge.connectors.base import FatalError, LedgerLeg, Recovered, Written
from billbridge.connectors.spec import ConnectionConfig, ConnectorSpec
from billbridge.domain import JournalEntry


class JsonlConnection(ConnectionConfig):
    connector: Literal["jsonl-file"]
    path: Path


def _line(entry: JournalEntry) -> bytes:
    data: dict[str, Any] = {
        "key": entry.key,
        "date": entry.date.isoformat(),
        "narration": entry.narration,
        "payee": entry.payee,
        "source": entry.source,
        "version": entry.version,
        "links": list(entry.links),
        "postings": [
            {"account": p.account, "amount": str(p.amount.amount), "currency": p.amount.currency}
            for p in entry.postings
        ],
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode() + b"\n"


class JsonlTarget:
    """Appends one JSON object per entry; a byte offset is the position."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: BinaryIO | None = path.open("ab")
        except OSError as exc:
            raise FatalError(f"cannot open {path}: {exc.strerror}") from exc
        self._lines = sum(1 for _ in self._scan(0))

    def _scan(self, start: int) -> Any:
        """(line number, entry) of every complete line after byte `start`."""
        number = 0
        with self.path.open("rb") as handle:
            for raw in handle:
                number += 1
                if handle.tell() - len(raw) < start or not raw.endswith(b"\n"):
                    continue
                yield number, json.loads(raw)

    def recover(self, committed_position: int) -> Mapping[str, Recovered]:
        size = self.path.stat().st_size
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < size:  # a torn tail: cut it off so the file is valid again
            assert self._file is not None
            self._file.truncate(end)
        self._lines = data[:end].count(b"\n")
        return {
            item["key"]: Recovered(
                ref=f"{self.path.name}:{n}",
                date=date.fromisoformat(item["date"]),
                legs=tuple(
                    LedgerLeg(
                        account=p["account"], amount=Decimal(p["amount"]), currency=p["currency"]
                    )
                    for p in item["postings"]
                ),
                version=item["version"],
            )
            for n, item in self._scan(committed_position)
        }

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        wanted = set(idempotency_keys)
        if not wanted:
            return {}
        return {
            item["key"]: f"{self.path.name}:{n}"
            for n, item in self._scan(0)
            if item["key"] in wanted
        }

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        assert self._file is not None, "write after close"
        first = self._lines + 1
        for entry in entries:
            self._file.write(_line(entry))
            self._lines += 1
        return Written(ref=f"{self.path.name}:{first}", position=self._file.tell())

    def flush(self) -> int:
        assert self._file is not None, "flush after close"
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()

    def render(self, entries: Sequence[JournalEntry]) -> str:
        return b"".join(_line(e) for e in entries).decode()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


SPEC = ConnectorSpec(
    name="jsonl-file",
    config=JsonlConnection,
    role="target",
    factory=lambda name, conn: JsonlTarget(name, conn.path),
)
