"""Reconcile's scratch space: the three views as sorted tables in a temporary SQLite file.

Why on disk: a reconcile compares every entry of a flow's whole history (the source now,
the store, the books), and held in memory that cost about 9 KB per source record, so a
million records did not fit a small machine. Here each view is written once as compact
rows keyed by idempotency key (or record key), and read back in key order, so the
comparison is a merge of sorted streams and memory is bounded by a batch and SQLite's
page cache, not by the history. The file lives in a private temporary folder for one
reconcile and is deleted with it; nothing here is kept.

A reconcile killed outright (SIGKILL, OOM) cannot delete its folder, and at a million
records that is about 2 GB left in the temp dir for good. So the folder's name says who
owns it, `billbridge-reconcile-<pid>-<host tag>-<random>` (the tag is a hash of the host
and PID namespace, as `liveness.this_host` names them), and each reconcile first removes
the folders of this host whose pid is no longer running (`remove_stale`). A live
process's folder is never touched; a folder of another host (a shared temp dir), or of
an older billbridge that did not name its pid, is left alone.

The containers are ordinary `collections.abc` types (a `Mapping` iterates its keys in
sorted order, a `Set` answers `in`), so the checks read them like the dicts and
frozensets the unit tests build by hand. Values are encoded by the caller's codec.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import (
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    MutableSet,
)
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..liveness import pid_alive, this_host

V = TypeVar("V")
PREFIX = "billbridge-reconcile-"
_HOST_TAG = hashlib.sha256(this_host().encode()).hexdigest()[:12]
_BATCH = 5_000  # rows buffered per table before one executemany
_CACHE_KB = 16_384  # SQLite's page cache for the scratch file (the OS caches the rest)


class Scratch:
    """One temporary SQLite database for one reconcile; close it to delete the file."""

    def __init__(self) -> None:
        remove_stale()
        self._dir = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-{_HOST_TAG}-"))
        self.db = sqlite3.connect(self._dir / "scratch.db", isolation_level=None)
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            "temp_store=FILE",
            f"cache_size=-{_CACHE_KB}",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("BEGIN")
        self._pending: dict[str, tuple[str, list[tuple[Any, ...]]]] = {}
        self._tables = 0

    def table(self, columns: str, primary: str) -> str:
        """A new table (name returned) with `columns`, keyed and ordered by `primary`."""
        self._tables += 1
        name = f"t{self._tables}"
        self.db.execute(f"CREATE TABLE {name} ({columns}, PRIMARY KEY ({primary})) WITHOUT ROWID")
        return name

    def add(self, table: str, sql: str, row: tuple[Any, ...]) -> None:
        """Buffer one row for `sql` (an INSERT into `table`); written in batches."""
        pending = self._pending.get(table)
        if pending is None or pending[0] != sql:
            if pending is not None:
                self._write(table)
            pending = self._pending[table] = (sql, [])
        pending[1].append(row)
        if len(pending[1]) >= _BATCH:
            self._write(table)

    def _write(self, table: str) -> None:
        sql, rows = self._pending.pop(table)
        if rows:
            self.db.executemany(sql, rows)

    def query(self, tables: str, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        """Run `sql` on `tables` (names, space-separated), after writing what is buffered."""
        for table in tables.split():
            if table in self._pending:
                self._write(table)
        return self.db.execute(sql, tuple(args))

    def flush(self) -> None:
        for table in list(self._pending):
            self._write(table)

    def close(self) -> None:
        self._pending.clear()
        self.db.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_stale(root: Path | None = None) -> list[Path]:
    """Delete the scratch folders in `root` (the temp dir) left by dead reconciles of this host.

    Returns the folders removed. Only names of the form `PREFIX<pid>-<this host's tag>-…`
    count, and only when no process has that pid now (a reused pid keeps a folder until
    that process ends too: safe, never early).
    """
    base = Path(tempfile.gettempdir()) if root is None else root
    removed = []
    for path in base.glob(f"{PREFIX}*-{_HOST_TAG}-*"):
        pid, _, rest = path.name.removeprefix(PREFIX).partition("-")
        if not (pid.isdigit() and rest.startswith(f"{_HOST_TAG}-")):
            continue
        if int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def rows_of(cursor: sqlite3.Cursor) -> Iterator[Any]:
    """A cursor's rows fetched in batches (a bounded number in memory at once)."""
    while rows := cursor.fetchmany(1_000):
        yield from rows


class DiskMap(MutableMapping[str, V], Generic[V]):
    """A str-keyed map on disk, iterated in key order (`sorted(dict)`'s order).

    `encode` turns a value into what SQLite stores (bytes, text or an integer).

    A later `[key] = value` replaces the earlier one, as in a dict. SQLite compares keys
    by their UTF-8 bytes, which orders them as Python orders `str` (by code point).
    """

    def __init__(
        self,
        scratch: Scratch,
        encode: Callable[[V], Any],
        decode: Callable[[Any], V],
    ) -> None:
        self.scratch = scratch
        self._encode, self._decode = encode, decode
        self.name = scratch.table("k TEXT NOT NULL, v NOT NULL", "k")
        self._put = f"INSERT OR REPLACE INTO {self.name} VALUES (?, ?)"

    def __setitem__(self, key: str, value: V) -> None:
        self.scratch.add(self.name, self._put, (key, self._encode(value)))

    def store(self, key: str, stored: bytes | str | int) -> None:
        """Write what `decode` reads back directly (a value kept by reference)."""
        self.scratch.add(self.name, self._put, (key, stored))

    def __getitem__(self, key: str) -> V:
        row = self.scratch.query(self.name, f"SELECT v FROM {self.name} WHERE k = ?", (key,))
        found = row.fetchone()
        if found is None:
            raise KeyError(key)
        return self._decode(found[0])

    def __contains__(self, key: object) -> bool:
        sql = f"SELECT 1 FROM {self.name} WHERE k = ?"
        return self.scratch.query(self.name, sql, (key,)).fetchone() is not None

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.scratch.query(self.name, f"DELETE FROM {self.name} WHERE k = ?", (key,))

    def __iter__(self) -> Iterator[str]:
        sql = f"SELECT k FROM {self.name} ORDER BY k"
        return (k for (k,) in rows_of(self.scratch.query(self.name, sql)))

    def __len__(self) -> int:
        return int(self.scratch.query(self.name, f"SELECT count(*) FROM {self.name}").fetchone()[0])

    def ordered(self) -> Iterator[tuple[str, V]]:
        """(key, value) in key order, one pass over the table."""
        decode = self._decode
        sql = f"SELECT k, v FROM {self.name} ORDER BY k"
        return ((k, decode(v)) for k, v in rows_of(self.scratch.query(self.name, sql)))

    def ordered_except(self, keys: DiskSet) -> Iterator[tuple[str, V]]:
        """(key, value) in key order for the keys not in `keys` (a set in the same file)."""
        decode = self._decode
        sql = f"SELECT k, v FROM {self.name} WHERE k NOT IN (SELECT k FROM {keys.name}) ORDER BY k"
        rows = self.scratch.query(f"{self.name} {keys.name}", sql)
        return ((k, decode(v)) for k, v in rows_of(rows))


class DiskSet(MutableSet[str]):
    """A set of str on disk: `in`, `add`, and iteration in sorted order."""

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.name = scratch.table("k TEXT NOT NULL", "k")
        self._put = f"INSERT OR IGNORE INTO {self.name} VALUES (?)"

    def add(self, value: str) -> None:
        self.scratch.add(self.name, self._put, (value,))

    def discard(self, value: str) -> None:
        self.scratch.query(self.name, f"DELETE FROM {self.name} WHERE k = ?", (value,))

    def __contains__(self, value: object) -> bool:
        sql = f"SELECT 1 FROM {self.name} WHERE k = ?"
        return self.scratch.query(self.name, sql, (value,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        sql = f"SELECT k FROM {self.name} ORDER BY k"
        return (k for (k,) in rows_of(self.scratch.query(self.name, sql)))

    def __len__(self) -> int:
        return int(self.scratch.query(self.name, f"SELECT count(*) FROM {self.name}").fetchone()[0])


class DiskGroups(Mapping[str, tuple[V, ...]], Generic[V]):
    """Values appended under a key, several per key: read back grouped, in key order.

    Within a key, values keep the order they were appended in; `values_in_order` gives
    every value in that order across keys.
    """

    def __init__(
        self, scratch: Scratch, encode: Callable[[V], Any], decode: Callable[[Any], V]
    ) -> None:
        self.scratch = scratch
        self._encode, self._decode = encode, decode
        self.name = scratch.table("k TEXT NOT NULL, n INTEGER NOT NULL, v NOT NULL", "k, n")
        self._put = f"INSERT INTO {self.name} VALUES (?, ?, ?)"
        self._n = 0

    def append(self, key: str, value: V) -> None:
        self._n += 1
        self.scratch.add(self.name, self._put, (key, self._n, self._encode(value)))

    def __getitem__(self, key: str) -> tuple[V, ...]:
        sql = f"SELECT v FROM {self.name} WHERE k = ? ORDER BY n"
        found = tuple(self._decode(v) for (v,) in self.scratch.query(self.name, sql, (key,)))
        if not found:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        sql = f"SELECT 1 FROM {self.name} WHERE k = ? LIMIT 1"
        return self.scratch.query(self.name, sql, (key,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        sql = f"SELECT DISTINCT k FROM {self.name} ORDER BY k"
        return (k for (k,) in rows_of(self.scratch.query(self.name, sql)))

    def __len__(self) -> int:
        sql = f"SELECT count(DISTINCT k) FROM {self.name}"
        return int(self.scratch.query(self.name, sql).fetchone()[0])

    def ordered(self) -> Iterator[tuple[str, tuple[V, ...]]]:
        """(key, its values) in key order, one pass over the table."""
        decode = self._decode
        sql = f"SELECT k, v FROM {self.name} ORDER BY k, n"
        key: str | None = None
        group: list[V] = []
        for k, v in rows_of(self.scratch.query(self.name, sql)):
            if k != key:
                if key is not None:
                    yield key, tuple(group)
                key, group = k, []
            group.append(decode(v))
        if key is not None:
            yield key, tuple(group)

    def containing(self, part: str) -> Iterator[tuple[str, int]]:
        """(key, how many values) for each key that contains `part`, in key order."""
        sql = f"SELECT k, count(*) FROM {self.name} WHERE instr(k, ?) > 0 GROUP BY k ORDER BY k"
        return iter(self.scratch.query(self.name, sql, (part,)).fetchall())

    def values_in_order(self) -> Iterator[V]:
        decode = self._decode
        sql = f"SELECT v FROM {self.name} ORDER BY n"
        return (decode(v) for (v,) in rows_of(self.scratch.query(self.name, sql)))


def ordered(mapping: Mapping[str, V]) -> Iterator[tuple[str, V]]:
    """A mapping's items in key order: read in order from disk, sorted when in memory."""
    if isinstance(mapping, DiskMap | DiskGroups):
        return mapping.ordered()
    return iter(sorted(mapping.items()))
