"""What both backends share: the Store methods, written once over named SQL.

Why one base class: the two dialects differ only in their SQL files, how a transaction
starts (SQLite `BEGIN IMMEDIATE`; PostgreSQL `BEGIN` plus an advisory lock), how times
and key lists travel, and which driver errors exist. Everything else (parameter order,
row building, the audit chain, the exception-queue rules) is in this base class and its
mixins, so the backends cannot drift apart. Parameters are positional and in the same
order in both dialects.

The Store methods are split by job into mixins: the audit chain (`_audit_log`), runs
(`_runs`), per-record reads and the exception queue (`_records`), and the older ones
(monitor, users, inbox, numbers, write-backs, mappings, pairs, privacy). This module
keeps the dialect edges, the plumbing every mixin uses, migrations and the batch write
path (`commit`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol

from billbridge.redact import redact_url

from ._audit_log import AuditMixin, PreparedAudit
from ._inbox import InboxMixin
from ._mappings import MappingStoreMixin
from ._monitor import MonitorMixin
from ._numbers import NumbersMixin
from ._pairs import PairsMixin
from ._privacy import PrivacyMixin
from ._queries import migrations, queries
from ._records import RecordsMixin
from ._rows import RowReader
from ._runs import RunsMixin
from ._users import UserStoreMixin
from ._writebacks import WriteBacksMixin, writeback_params
from .base import Batch, StoreError

__all__ = ["PreparedAudit", "SqlStore", "Tx", "redact_url"]


class Tx(Protocol):
    """The slice of a DB-API connection/cursor used inside a transaction."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Any, /) -> Any: ...


def _now() -> datetime:
    return datetime.now(UTC)


class SqlStore(
    AuditMixin, RunsMixin, RecordsMixin,
    MonitorMixin, UserStoreMixin, InboxMixin, NumbersMixin, WriteBacksMixin, MappingStoreMixin,
    PairsMixin, PrivacyMixin, RowReader, ABC,
):  # fmt: skip
    """A `Store` over one DB-API connection; subclasses supply the dialect's edges."""

    dialect: ClassVar[str]
    _no_limit: ClassVar[int | None]  # what LIMIT takes for "all rows"
    _driver_errors: ClassVar[tuple[type[Exception], ...]]
    _conn: Any
    _secrets: tuple[str, ...] = ()  # strings scrubbed from every error message

    def __init__(self) -> None:
        self._q = queries(self.dialect)

    # ------------------------------------------------------------------ dialect edges
    @abstractmethod
    def _write(self, *, lock: bool = False) -> AbstractContextManager[Tx]:
        """A write transaction; `lock` serialises writers of the audit chain."""

    @abstractmethod
    def _run_script(self, tx: Tx, script: str) -> None:
        """Run a migration file (several statements) inside `tx`."""

    @abstractmethod
    def _ts(self, at: datetime) -> Any:
        """A time as the driver should send it (aware datetimes only)."""

    @abstractmethod
    def _keys(self, keys: Sequence[str]) -> Any:
        """A list of keys as one parameter (`IN`/`ANY` in one query, any length)."""

    @abstractmethod
    def _secure_delete(self) -> None:
        """Make the backend zero what later writes free or overwrite (erasure)."""

    @abstractmethod
    def compact(self) -> None:
        """After an erasure: no old copy of rewritten rows left in the store's files."""

    def close(self) -> None:
        with self._guard("close"):
            self._conn.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _bulk(self, tx: Tx, name: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one named statement for many rows (PostgreSQL overrides it with unnest)."""
        tx.executemany(self._q[name], rows)

    def _interrupted(self) -> None:
        """A KeyboardInterrupt left a store call; make the connection usable again so the
        run can still be finished as failed (SQLite needs nothing: its calls are atomic)."""

    def _guard(self, what: str) -> _Guard:
        """Translate driver errors into StoreError at the edge, without secrets."""
        return _Guard(self, what)

    def _store_error(self, what: str, exc: BaseException) -> StoreError:
        message = " ".join(str(exc).split()) or type(exc).__name__
        if "append-only" in message:
            message = "the audit log is append-only: its rows cannot be changed or deleted"
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return StoreError(f"{self.dialect} state store, {what}: {message}")

    def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]:
        rows: list[Any] = self._conn.execute(self._q[name], params).fetchall()
        return rows

    def _one(self, name: str, params: Sequence[Any] = ()) -> Any:
        rows = self._all(name, params)
        return rows[0] if rows else None

    def _opt_ts(self, at: datetime | None) -> Any:
        return None if at is None else self._ts(at)

    @staticmethod
    def _aware(at: datetime) -> datetime:
        if at.tzinfo is None:
            raise StoreError(f"naive datetime {at!r}: the store takes only zoned times")
        return at.astimezone(UTC)

    def _opened(self, setup: Callable[[], None]) -> None:
        """Finish opening: session setup, then migrations; close the connection on failure."""
        try:
            setup()
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        """Apply every migration not yet recorded, each in its own transaction.

        Why the first read: every CLI command and every served request opens the store,
        and almost always nothing is pending; one unlocked query then replaces a locked
        write transaction per migration (on PostgreSQL, ~40 ms per open down to ~2 ms).
        """
        known = migrations(self.dialect)
        newest = known[-1][0] if known else 0
        with self._guard("migrate"):
            try:
                applied = {row[0] for row in self._conn.execute(self._q["applied_migrations"])}
            except self._driver_errors:
                applied = set()  # a new store: no schema_migrations table yet
            _check_not_newer(applied, newest)
            if applied >= {version for version, _, _ in known}:
                return
            for version, name, script in known:
                with self._write(lock=True) as tx:
                    tx.execute(self._q["create_schema_migrations"], ())
                    applied = {row[0] for row in tx.execute(self._q["applied_migrations"], ())}
                    _check_not_newer(applied, newest)
                    if version in applied:
                        continue
                    try:
                        self._run_script(tx, script)
                    except self._driver_errors as exc:
                        raise StoreError(f"migration {name} failed: {exc}") from None
                    tx.execute(self._q["record_migration"], (version, self._ts(_now())))

    # ------------------------------------------------------------------ the write path
    def commit(self, batch: Batch) -> None:
        """Write a whole batch in one transaction, or nothing of it.

        Order: records, postings, outcomes, exception upserts, then closes (so a batch
        that fails and later syncs the same record leaves it closed), cursors, audit.
        """
        if batch.is_empty():
            return
        ts = self._ts_memo()
        now = _now()

        def opt(at: datetime | None) -> Any:
            return None if at is None else ts(at)

        # One row per key, the last one winning: what sequential upserts would leave, and
        # what a single multi-row upsert (PostgreSQL's bulk path) requires.
        records = list(
            {
                r.key: (r.key, r.connection, r.object, r.source_id, r.version, r.snapshot,
                        ts(r.seen_at))
                for r in batch.records
            }.values()
        )  # fmt: skip
        postings = [
            (p.flow, p.record_key, p.facet, p.idempotency_key, p.version, p.entry_hash,
             p.target, p.target_ref, p.run_id, ts(p.posted_at), p.summary, p.link, p.lines,
             p.mapping_version)
            for p in batch.postings
        ]  # fmt: skip
        outcomes = [
            (o.run_id, o.flow, o.record_key, o.version, o.outcome, ts(o.at), o.retryable,
             o.error, o.field, o.hint)
            for o in batch.outcomes
        ]  # fmt: skip
        exceptions = [
            (e.flow, e.record_key, e.version, e.kind, e.error, e.field, e.hint, e.retryable,
             e.waiting_on, opt(e.next_try_at), ts(e.first_seen or e.at), ts(e.at),
             opt(e.held_since))
            for e in batch.exceptions
        ]  # fmt: skip
        closes = [(why, ts(now), flow, key) for flow, key, why in batch.closed_exceptions]
        flow_versions = list({(f, k): (f, k, v) for f, k, v in batch.flow_versions}.values())
        cursors = [(c.flow, c.name, c.value, c.position, ts(now)) for c in batch.cursors]
        numbers = [(e, s, n, seq, key, ts(at)) for e, s, n, seq, key, at in batch.invoice_numbers]
        writebacks = [writeback_params(w, ts, now) for w in batch.writebacks]
        events = self._prepare_audit(batch.audit, now, ts)
        with self._guard("commit"), self._write(lock=bool(events)) as tx:
            for name, rows in (
                ("upsert_record", records),
                ("insert_posting", postings),
                ("insert_outcome", outcomes),
                ("upsert_exception", exceptions),
                ("close_exception", closes),
                ("upsert_cursor", cursors),
                ("upsert_flow_record", flow_versions),
                ("claim_invoice_number", numbers),
                ("upsert_writeback", writebacks),
            ):
                if rows:
                    self._bulk(tx, name, rows)
            for name, params in batch.statements:
                tx.execute(self._q[name], self._params(params))
            if events:
                self._append(tx, events)

    def _params(self, params: Sequence[Any]) -> tuple[Any, ...]:
        """A statement's parameters as the driver takes them (zoned times converted)."""
        return tuple(self._ts(p) if isinstance(p, datetime) else p for p in params)

    def _ts_memo(self) -> Callable[[datetime], Any]:
        """`_ts` that formats each UTC time once, for the rows of one commit.

        Why: a batch stamps a record, its postings and its audit rows with one `now`, and
        formatting a time costs more than a dict look-up. Only times in `UTC` itself are
        remembered: two equal times of another zone can be different instants (fold).
        """
        memo: dict[datetime, Any] = {}
        ts = self._ts

        def cached(at: datetime) -> Any:
            if at.tzinfo is not UTC:
                return ts(at)
            found = memo.get(at)
            if found is None:
                found = memo[at] = ts(at)
            return found

        return cached


class _Guard:
    """`SqlStore._guard`'s context manager: a class, as it wraps every store call.

    Why not `@contextmanager`: a generator per call costs several times this on the
    per-record reads of a sync, and the behaviour is the same: driver errors become a
    `StoreError` (its context suppressed), every other exception passes unchanged.
    """

    __slots__ = ("_store", "_what")

    def __init__(self, store: SqlStore, what: str) -> None:
        self._store = store
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> Literal[False]:  # fmt: skip
        if exc is None or isinstance(exc, StoreError):
            return False
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C inside a driver call
            self._store._interrupted()
            return False
        if isinstance(exc, self._store._driver_errors):
            raise self._store._store_error(self._what, exc) from None
        return False


def _check_not_newer(applied: set[int], newest: int) -> None:
    if applied and max(applied) > newest:
        raise StoreError(
            f"the state store's schema is version {max(applied)}, newer than "
            f"this billbridge knows ({newest}); upgrade billbridge"
        )
