"""Records and changes in a person's words, for every surface that shows them.

Why one module: the queue, the causes, trace, audit, alerts and the daily report must
name a record the same way ("Invoice BB-0042 · Globex · 1,190.00 EUR · 2026-01-05") and
show a change the same way ("error: tax rate … → (none)"), never as a Python value
(`[None, ['issue']]`). The engine knows no system's field names: the words for a record
come from the `words` function of its connection's source model (connectors/source.py,
wired in `billbridge.wiring.record_namer`), applied to the record's stored snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson

from billbridge.connectors.source import Words
from billbridge.domain import RecordWords
from billbridge.store.base import Records

__all__ = ["RecordNamer", "change_lines", "change_text", "plain_value"]


def _split(key: str) -> tuple[str, str, str]:
    connection, _, rest = key.partition(":")
    obj, _, ident = rest.partition(":")
    return connection, obj, ident


class RecordNamer:
    """Words for record keys: snapshots read in one query per call, look-ups cached.

    `words` maps a source connection to its source model's words; a record of another
    connection (or any, for a caller with no workspace) is named by its object and id
    only, which is still not a raw key.
    """

    def __init__(self, store: Records, words: Mapping[str, Words] | None = None) -> None:
        self.store = store
        self.words_of = dict(words or {})
        self._words: dict[str, RecordWords] = {}
        self._snapshots: dict[str, Mapping[str, Any] | None] = {}

    def _snapshot(self, key: str) -> Mapping[str, Any] | None:
        if key not in self._snapshots:
            row = self.store.get_record(key)
            self._snapshots[key] = orjson.loads(row.snapshot) if row is not None else None
        return self._snapshots[key]

    def words(self, keys: Iterable[str]) -> dict[str, RecordWords]:
        keys = list(keys)
        wanted = [k for k in dict.fromkeys(keys) if k and k not in self._words]
        missing = [k for k in wanted if k not in self._snapshots]
        if missing:
            rows = self.store.get_records(missing)
            for key in missing:
                row = rows.get(key)
                self._snapshots[key] = orjson.loads(row.snapshot) if row is not None else None
        for key in wanted:
            self._words[key] = self._describe(key)
        return {k: self._words[k] for k in keys if k in self._words}

    def _describe(self, key: str) -> RecordWords:
        connection, obj, ident = _split(key)
        data = self._snapshots.get(key)
        words = self.words_of.get(connection)
        if words is None:
            return RecordWords(kind=obj.replace("_", " ").capitalize(), number=ident)

        def resolve(object: str, id: str) -> Mapping[str, Any] | None:
            return self._snapshot(f"{connection}:{object}:{id}")

        return words(obj, ident, data, resolve)

    def of(self, key: str) -> RecordWords:
        return self.words([key])[key]

    def text(self, key: str) -> str:
        return self.of(key).text() if key else ""


_FIELD_WORDS = {
    "postings": "entries",
    "error": "why",
    "version": "source version",
    "resolution": "reason",
    "target_ref": "where",
    "posting": "entry",
    "attempts_in_run": "tries in this run",
}


def plain_value(value: Any) -> str:
    """Any JSON value as words: lists joined, booleans yes/no, null as "(none)"."""
    if value is None or value in ("", [], {}):
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(plain_value(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {plain_value(v)}" for k, v in value.items())
    if isinstance(value, Decimal | float):
        return f"{value:f}" if isinstance(value, Decimal) else f"{value:g}"
    return str(value)


def change_lines(diff: Mapping[str, Any]) -> list[str]:
    """An audit diff as lines a person reads: `field: new` or `field: old → new`.

    A diff maps a field to `[before, after]`; anything else is a value that was noted.
    """
    lines = []
    for field, change in diff.items():
        name = _FIELD_WORDS.get(field, field.replace("_", " "))
        if isinstance(change, list) and len(change) == 2:
            before, after = change
            if before is None or before == "":
                lines.append(f"{name}: {plain_value(after)}")
            else:
                lines.append(f"{name}: {plain_value(before)} → {plain_value(after)}")
        else:
            lines.append(f"{name}: {plain_value(change)}")
    return lines


def change_text(diff: Mapping[str, Any]) -> str:
    return "; ".join(change_lines(diff))
