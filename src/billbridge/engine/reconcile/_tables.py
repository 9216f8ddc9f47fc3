"""The views' rows on disk: codecs, and the containers the checks read beyond a map or set.

Why compact codecs rather than pickling everything: an entry's legs and a ledger posting
are the bulk of a reconcile (one or more per source record), so they are stored as short
JSON arrays (amounts as their exact decimal text) and rebuilt only when a check reads
them. A source's record keeps its bytes; its data is parsed from them again when it is
exactly their JSON (an export), else pickled, since the data can be any shape a
connector gives (the engine knows no source's fields). Pickles are written and read by
this one process, in its own temporary file.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, overload

import orjson

from billbridge.connectors.base import LedgerLeg, LedgerPosting, RawRecord

from ._model import Expected, NumberSeen
from ._scratch import DiskGroups, DiskMap, DiskSet, Scratch, rows_of


# ---------------------------------------------------------------------- codecs
def _legs(legs: tuple[LedgerLeg, ...]) -> list[list[str]]:
    return [[leg.account, str(leg.amount), leg.currency] for leg in legs]


def _unlegs(rows: list[list[str]]) -> tuple[LedgerLeg, ...]:
    return tuple(LedgerLeg(account=a, amount=Decimal(n), currency=c) for a, n, c in rows)


def encode_expected(e: Expected) -> bytes:
    return orjson.dumps(
        [e.idempotency_key, e.record_key, e.facet, e.link, _legs(e.legs), e.entry_hash]
    )


def decode_expected(blob: bytes) -> Expected:
    key, record, facet, link, legs, hashed = orjson.loads(blob)
    return Expected(
        idempotency_key=key,
        record_key=record,
        facet=facet,
        link=link,
        legs=_unlegs(legs),
        entry_hash=hashed,
    )


def encode_posting(p: LedgerPosting) -> bytes:
    return orjson.dumps(
        [p.idempotency_key, p.record_key, p.ref, p.date.isoformat(), p.links, _legs(p.legs)]
    )


def decode_posting(blob: bytes) -> LedgerPosting:
    key, record, ref, day, links, legs = orjson.loads(blob)
    return LedgerPosting(
        idempotency_key=key,
        record_key=record,
        ref=ref,
        date=date.fromisoformat(day),
        links=tuple(links),
        legs=_unlegs(legs),
    )


def encode_posted(value: tuple[str, str, datetime]) -> bytes:
    hashed, ref, at = value
    return orjson.dumps([hashed, ref, at.isoformat()])


def decode_posted(blob: bytes) -> tuple[str, str, datetime]:
    hashed, ref, at = orjson.loads(blob)
    return hashed, ref, datetime.fromisoformat(at)


def encode_pickled(value: Any) -> bytes:
    return pickle.dumps(value, protocol=5)


def decode_pickled(blob: bytes) -> Any:
    return pickle.loads(blob)  # noqa: S301 - this process's own scratch file, never outside input


def _data(raw: RawRecord) -> bytes | None:
    """What to keep of a record's data: None when it is exactly the JSON of its bytes (a
    JSON export: read back by parsing them again), else the data pickled; b"" for an
    unreadable record (no data)."""
    if raw.error:
        return b""
    try:
        if type(raw.data) is dict and orjson.loads(raw.raw) == raw.data:
            return None
    except orjson.JSONDecodeError:
        pass
    return encode_pickled(raw.data)


def _undata(raw: bytes, data: bytes | None) -> Mapping[str, Any]:
    if data is None:
        parsed: Mapping[str, Any] = orjson.loads(raw)
        return parsed
    return decode_pickled(data) if data else {}


# ---------------------------------------------------------------------- containers
class DiskLedger:
    """The books' postings of one flow: iterated as read, and grouped by idempotency key."""

    def __init__(self, scratch: Scratch) -> None:
        self.groups: DiskGroups[LedgerPosting] = DiskGroups(scratch, encode_posting, decode_posting)

    def append(self, posting: LedgerPosting) -> None:
        self.groups.append(posting.idempotency_key, posting)

    def __iter__(self) -> Iterator[LedgerPosting]:
        return self.groups.values_in_order()


class DiskNumbers:
    """Invoice numbers in the order they were seen (the source's, or the store's claims).

    `records` answers "does a record carry a number here" without holding them all.
    """

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.name = scratch.table(
            "n INTEGER NOT NULL, record TEXT NOT NULL, entity TEXT NOT NULL, "
            "series TEXT NOT NULL, number TEXT NOT NULL, seq INTEGER",
            "n",
        )
        self.records = DiskSet(scratch)
        self._put = f"INSERT INTO {self.name} VALUES (?, ?, ?, ?, ?, ?)"
        self._n = 0

    def append(self, seen: NumberSeen) -> None:
        self._n += 1
        row = (self._n, seen.record_key, seen.entity, seen.series, seen.number, seen.seq)
        self.scratch.add(self.name, self._put, row)
        self.records.add(seen.record_key)

    def __iter__(self) -> Iterator[NumberSeen]:
        sql = f"SELECT record, entity, series, number, seq FROM {self.name} ORDER BY n"
        return (
            NumberSeen(record_key=r, entity=e, series=s, number=num, seq=q)
            for r, e, s, num, q in rows_of(self.scratch.query(self.name, sql))
        )

    def __len__(self) -> int:
        return self._n


class DiskRecords(Sequence[RawRecord]):
    """The source's records as read (errors included), and the last one read per key.

    A `Sequence` so that a source's own checks (`SourceModel.checks`) can read them more
    than once, in order, as they read the list they were given before.
    """

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.name = scratch.table(
            "n INTEGER NOT NULL, object TEXT NOT NULL, id TEXT NOT NULL, raw BLOB NOT NULL, "
            "data BLOB, position TEXT NOT NULL, line INTEGER NOT NULL, "
            "error TEXT NOT NULL",
            "n",
        )
        self._put = f"INSERT INTO {self.name} VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        self._n = 0

    def append(self, raw: RawRecord) -> int:
        """Keep `raw`; returns its place (1-based), which `at` reads back."""
        self._n += 1
        row = (self._n, raw.object, raw.id, raw.raw, _data(raw), raw.position, raw.line, raw.error)
        self.scratch.add(self.name, self._put, row)
        return self._n

    @staticmethod
    def _record(row: tuple[Any, ...]) -> RawRecord:
        _n, obj, ident, raw, data, position, line, error = row
        return RawRecord(
            object=obj,
            id=ident,
            data=_undata(raw, data),
            raw=raw,
            position=position,
            line=line,
            error=error,
        )

    def at(self, place: int) -> RawRecord:
        sql = f"SELECT * FROM {self.name} WHERE n = ?"
        row = self.scratch.query(self.name, sql, (place,)).fetchone()
        if row is None:
            raise IndexError(place)
        return self._record(row)

    def data_at(self, place: int) -> Mapping[str, Any]:
        sql = f"SELECT raw, data FROM {self.name} WHERE n = ?"
        row = self.scratch.query(self.name, sql, (place,)).fetchone()
        if row is None:
            raise IndexError(place)
        return _undata(row[0], row[1])

    def __iter__(self) -> Iterator[RawRecord]:
        sql = f"SELECT * FROM {self.name} ORDER BY n"
        return (self._record(row) for row in rows_of(self.scratch.query(self.name, sql)))

    def numbered(self) -> Iterator[tuple[int, RawRecord]]:
        """(place, record) in the order read."""
        sql = f"SELECT * FROM {self.name} ORDER BY n"
        rows = rows_of(self.scratch.query(self.name, sql))
        return ((row[0], self._record(row)) for row in rows)

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> RawRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[RawRecord]: ...
    def __getitem__(self, index: int | slice) -> RawRecord | Sequence[RawRecord]:
        if isinstance(index, slice):
            return [self.at(i + 1) for i in range(*index.indices(self._n))]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        return self.at(index + 1)


class RecordsByKey(Mapping[str, RawRecord]):
    """The last record read under each key (what `reconcile --fix` runs again)."""

    def __init__(self, records: DiskRecords) -> None:
        self.records = records
        self.places: DiskMap[int] = DiskMap(records.scratch, int, int)

    def __getitem__(self, key: str) -> RawRecord:
        return self.records.at(self.places[key])

    def __contains__(self, key: object) -> bool:
        return key in self.places

    def __iter__(self) -> Iterator[str]:
        return iter(self.places)

    def __len__(self) -> int:
        return len(self.places)
