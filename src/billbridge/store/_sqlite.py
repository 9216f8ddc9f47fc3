"""The embedded backend: one SQLite file in WAL mode (the default state store).

Why these settings: WAL lets readers (the web UI, `billbridge queue`) read while a run
writes; `synchronous=NORMAL` is durable across application crashes in WAL mode and only
risks the last transactions on power loss, which the targets' idempotency keys cover;
`BEGIN IMMEDIATE` takes the writer lock up front so the audit chain head read inside a
transaction cannot be stale, and `busy_timeout` makes a second writer wait, not fail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from ._common import SqlStore, Tx
from .audit_chain import iso_utc
from .base import StoreError

__all__ = ["SQLiteStore"]

BUSY_TIMEOUT_MS = 10_000


class SQLiteStore(SqlStore):
    """`Store` on a SQLite file; opening applies any pending migrations."""

    dialect: ClassVar[str] = "sqlite"
    _no_limit: ClassVar[int | None] = -1
    _codepoint_order: ClassVar[bool] = True  # TEXT compares as UTF-8 bytes (BINARY)
    _driver_errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions; we BEGIN/COMMIT ourselves.
            # check_same_thread=False: the service opens a store per request and FastAPI
            # may run that request's steps on different pool threads (never at once).
            self._conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the SQLite state store {self.path}: {exc}") from None
        self._opened(self._setup)

    def _setup(self) -> None:
        with self._guard(f"prepare {self.path}"):
            for pragma in (
                "journal_mode = WAL",
                "synchronous = NORMAL",
                "foreign_keys = ON",
                f"busy_timeout = {BUSY_TIMEOUT_MS}",
                "cache_size = -32768",  # 32 MiB: index pages of a large backfill stay hot
            ):
                self._conn.execute(f"PRAGMA {pragma}")

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def reusable(self) -> bool:
        """No transaction left open: safe to hand to the next request."""
        return not self._conn.in_transaction

    @contextmanager
    def _write(self, *, lock: bool = False) -> Iterator[Tx]:
        # Every write takes the writer lock at BEGIN; `lock` needs nothing more here.
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _run_script(self, tx: Tx, script: str) -> None:
        """Statement by statement: `executescript` would COMMIT our open transaction."""
        pending = ""
        for line in script.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                tx.execute(pending, ())
                pending = ""
        if any(ln.strip() and not ln.strip().startswith("--") for ln in pending.splitlines()):
            raise StoreError(f"incomplete SQL statement at the end of a migration: {pending!r}")

    def _ts(self, at: datetime) -> str:
        if at.tzinfo is None:
            raise StoreError(f"naive datetime {at!r}: the store takes only zoned times")
        return iso_utc(at)

    def _dt(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).astimezone(UTC)

    def _keys(self, keys: Sequence[str]) -> str:
        return orjson.dumps(list(keys)).decode()

    def _secure_delete(self) -> None:
        """From now on, freed and overwritten content is zeroed on disk (GDPR erasure)."""
        with self._guard("prepare erasure"):
            self._conn.execute("PRAGMA secure_delete = ON")

    def compact(self) -> None:
        """Leave no old copy of erased data: checkpoint the WAL into the file, rebuild the
        file (VACUUM drops free pages), and truncate the WAL to nothing."""
        with self._guard("compact after erasure"):
            self._conn.execute("PRAGMA secure_delete = ON")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
