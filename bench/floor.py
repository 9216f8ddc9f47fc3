"""Benchmark: the ceiling a CPython backfill cannot beat on this machine.

Run by hand after `bench/backfill.py --records N` made the export:

    .venv/bin/python bench/floor.py bench/out/stripe-100000.jsonl

Times two skeletons over the same export, with none of billbridge's work: (1) read and
parse every line with orjson; (2) read, parse, hash each record, chain one audit hash,
and insert one record row and one audit row per record into SQLite (WAL, synchronous
NORMAL, batches of 1000). The whole path also normalizes, maps, renders, appends to the
ledger and writes postings and cursors, so it can only be slower than skeleton (2).
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import orjson

BATCH = 1000


def parse_only(export: Path) -> float:
    started, count = time.perf_counter(), 0
    with export.open("rb") as handle:
        for line in handle:
            orjson.loads(line)
            count += 1
    return count / (time.perf_counter() - started)


def parse_hash_store(export: Path, db: Path) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE record (key TEXT PRIMARY KEY, version TEXT, snapshot BLOB)")
    conn.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, key TEXT, prev TEXT, hash TEXT)")
    started, count, prev = time.perf_counter(), 0, "0" * 64
    records: list[tuple[str, str, bytes]] = []
    audit: list[tuple[int, str, str, str]] = []

    def flush() -> None:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO record VALUES (?, ?, ?)", records)
        conn.executemany("INSERT INTO audit VALUES (?, ?, ?, ?)", audit)
        conn.execute("COMMIT")
        records.clear()
        audit.clear()

    with export.open("rb") as handle:
        for line in handle:
            data = orjson.loads(line)
            key = f"stripe:{data['object']}:{data['id']}"
            version = hashlib.sha256(line).hexdigest()
            records.append((key, version, line))
            count += 1
            digest = hashlib.sha256((prev + version).encode()).hexdigest()
            audit.append((count, key, prev, digest))
            prev = digest
            if len(records) >= BATCH:
                flush()
    flush()
    conn.close()
    return count / (time.perf_counter() - started)


def main() -> None:
    export = Path(sys.argv[1])
    print(f"parse only:                        {parse_only(export):>10,.0f} records/s")
    with tempfile.TemporaryDirectory() as tmp:
        rate = parse_hash_store(export, Path(tmp) / "floor.db")
    print(f"parse + hash + 2 SQLite inserts:   {rate:>10,.0f} records/s")


if __name__ == "__main__":
    main()
