"""Migration 0110 (SQLite) rebuilds `invoice_numbers` WITHOUT ROWID and keeps every row.

Why its own test: the schema comparison builds an empty store; this one upgrades a store
that already holds claimed numbers, as a workspace made before issue 19 does.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from billbridge.store import open_store
from billbridge.store._queries import migrations

ROWS = [
    ("acme", "BB", "BB-0001", 1, "stripe:invoice:in_1a", "2026-12-01T00:00:00.000000+00:00"),
    ("acme", "BB", "BB-0002", 2, "stripe:invoice:in_1b", "2026-12-01T00:00:01.000000+00:00"),
    ("globex", "GX", "GX-7", None, "stripe:invoice:in_1c", "2026-12-02T00:00:00.000000+00:00"),
]


def _store_before_0110(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for version, _, script in migrations("sqlite"):
            if version >= 110:
                break
            conn.executescript(script)
            conn.execute("INSERT INTO schema_migrations VALUES (?, '2026-12-01')", (version,))
        conn.executemany("INSERT INTO invoice_numbers VALUES (?, ?, ?, ?, ?, ?)", ROWS)
        conn.commit()
    finally:
        conn.close()


def test_0110_keeps_the_numbers_and_drops_the_rowid(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _store_before_0110(path)
    with sqlite3.connect(path) as conn:
        assert (
            "WITHOUT ROWID"
            not in conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'invoice_numbers'"
            ).fetchone()[0]
        )
    store = open_store(path)
    try:
        assert (
            store.invoice_number_owner(entity="acme", series="BB", number="BB-0002")
            == "stripe:invoice:in_1b"
        )
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'invoice_numbers'"
        ).fetchone()
        rows = conn.execute("SELECT * FROM invoice_numbers ORDER BY entity, number").fetchall()
        temp = conn.execute("SELECT name FROM sqlite_temp_master").fetchall()
    assert sql[0].rstrip().endswith("WITHOUT ROWID")
    assert rows == ROWS
    assert temp == []
