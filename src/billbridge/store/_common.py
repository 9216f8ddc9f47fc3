"""What both backends share: the Store methods, written once over named SQL.

Why one base class: the two dialects differ only in their SQL files, how a transaction
starts (SQLite `BEGIN IMMEDIATE`; PostgreSQL `BEGIN` plus an advisory lock), how times
and key lists travel, and which driver errors exist. Everything else (parameter order,
row building, the audit chain, the exception-queue rules) is here, so the backends
cannot drift apart. Parameters are positional and in the same order in both dialects.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol

import orjson

from billbridge.redact import redact_url

from . import audit_chain
from ._inbox import InboxMixin
from ._mappings import MappingStoreMixin
from ._monitor import MonitorMixin
from ._numbers import NumbersMixin
from ._pairs import PairsMixin
from ._privacy import PrivacyMixin
from ._queries import migrations, queries
from ._rows import RowReader
from ._users import UserStoreMixin
from ._writebacks import WriteBacksMixin, writeback_params
from .base import (
    AuditEvent,
    AuditHead,
    AuditRow,
    AuditVerdict,
    Batch,
    CursorRow,
    ExceptionRow,
    OutcomeRow,
    PostingRow,
    RecordRow,
    RunFigures,
    RunOwner,
    RunRow,
    StoreError,
)

__all__ = ["PreparedAudit", "SqlStore", "Tx", "redact_url"]

PAGE = 1000  # rows per page when streaming the audit log or postings

# An audit event ready to link: (event, time in UTC, that time as `iso_utc` text, the
# time as the driver takes it, the diff's stored text, the diff's JSON for the hash).
PreparedAudit = tuple[AuditEvent, datetime, str, Any, str, bytes]


class Tx(Protocol):
    """The slice of a DB-API connection/cursor used inside a transaction."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Any, /) -> Any: ...


def _now() -> datetime:
    return datetime.now(UTC)


class SqlStore(
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

    # ------------------------------------------------------------------ runs
    def start_run(
        self,
        *,
        flow: str,
        kind: str,
        actor: str,
        mapping_version: str = "",
        owner: RunOwner | None = None,
    ) -> RunRow:
        now = _now()
        host, pid, token = (owner.host, owner.pid, owner.token) if owner else ("", 0, "")
        with self._guard("start run"), self._write() as tx:
            params = (flow, kind, actor, self._ts(now), mapping_version, host, pid, token,
                      self._ts(now))  # fmt: skip
            (run_id,) = tx.execute(self._q["start_run"], params).fetchall()[0]
        return RunRow(
            id=run_id, flow=flow, kind=kind, actor=actor, started_at=now,
            mapping_version=mapping_version, owner=owner, heartbeat_at=now,
        )  # fmt: skip

    def finish_run(
        self,
        run_id: int,
        *,
        counts: Mapping[str, int],
        status: str,
        figures: RunFigures | None = None,
        error: str = "",
    ) -> None:
        params = (self._ts(_now()), status, orjson.dumps(dict(counts)).decode(), error, run_id)
        with self._guard("finish run"), self._write() as tx:
            if not tx.execute(self._q["finish_run"], params).fetchall():
                raise StoreError(f"no run {run_id} to finish")
            if figures is not None:
                tx.execute(self._q["run_figures_insert"], self._figures_params(run_id, figures))

    def running_runs(self, *, flow: str | None = None) -> list[RunRow]:
        with self._guard("list running runs"):
            return [self._run(r) for r in self._all("running_runs", (flow, flow))]

    def touch_run(self, run_id: int) -> None:
        with self._guard("note a run alive"), self._write() as tx:
            tx.execute(self._q["touch_run"], (self._ts(_now()), run_id))

    def close_dead_run(self, run_id: int, *, status: str, error: str, actor: str) -> bool:
        """Close a run found dead, with its audit row in the same transaction."""
        now = _now()
        with self._guard("close a dead run"), self._write(lock=True) as tx:
            found = tx.execute(
                self._q["close_dead_run"], (self._ts(now), status, error, run_id)
            ).fetchall()
            if not found:
                return False
            event = AuditEvent(
                actor=actor, action=f"run-{status}", run_id=run_id, at=now,
                diff={"status": ["running", status], "error": [None, error]},
            )  # fmt: skip
            self._append(tx, self._prepare_audit([event], now))
        return True

    def get_run(self, run_id: int) -> RunRow | None:
        with self._guard("get run"):
            row = self._one("get_run", (run_id,))
        return None if row is None else self._run(row)

    def list_runs(self, *, flow: str | None = None, limit: int = 50) -> list[RunRow]:
        with self._guard("list runs"):
            return [self._run(r) for r in self._all("list_runs", (flow, flow, limit))]

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

    # ------------------------------------------------------------------ audit
    def _prepare_audit(
        self,
        events: Sequence[AuditEvent],
        now: datetime,
        ts: Callable[[datetime], Any] | None = None,
    ) -> list[PreparedAudit]:
        """Format times and diffs before the transaction, to keep the lock short.

        Each event becomes (event, its time in UTC, that time as `iso_utc` text, the
        driver's form of it, the diff's stored text, the diff's JSON for the hash).
        """
        ts = ts or self._ts
        iso = audit_chain.iso_utc
        prepared = []
        for event in events:
            try:
                text, hashed = audit_chain.diff_texts(event.diff)
            except (TypeError, ValueError) as exc:
                raise StoreError(f"audit diff of {event.record_key!r} is not JSON: {exc}") from None
            at = now if event.at is None else self._aware(event.at)
            stamp = ts(at)  # SQLite's form of a time is its iso_utc text already
            at_text = stamp if isinstance(stamp, str) else iso(at)
            prepared.append((event, at, at_text, stamp, text, hashed))
        return prepared

    def _append(self, tx: Tx, events: list[PreparedAudit]) -> list[tuple[Any, ...]]:
        """Link events onto the chain head and insert them; the caller holds the writer lock.

        Returns the inserted parameter tuples (seq, at, actor, action, record_key, diff
        text, run_id, mapping_version, prev_hash, hash); the hot path builds no row objects.
        """
        head = tx.execute(self._q["audit_head"], ()).fetchall()
        seq, prev = (head[0][0], head[0][1]) if head else (0, audit_chain.GENESIS)
        canonical, chain_hash = audit_chain.canonical_text, audit_chain.chain_hash
        params = []
        for event, _, at_text, stamp, text, hashed in events:
            seq += 1
            content = canonical(
                seq=seq, at=at_text, actor=event.actor, action=event.action,
                record_key=event.record_key, diff=hashed, run_id=event.run_id,
                mapping_version=event.mapping_version,
            )  # fmt: skip
            digest = chain_hash(prev, content)
            params.append(
                (seq, stamp, event.actor, event.action, event.record_key, text,
                 event.run_id, event.mapping_version, prev, digest)
            )  # fmt: skip
            prev = digest
        self._bulk(tx, "insert_audit", params)
        return params

    def append_audit(self, event: AuditEvent) -> AuditRow:
        events = self._prepare_audit([event], _now())
        with self._guard("append audit"), self._write(lock=True) as tx:
            (p,) = self._append(tx, events)
        at, text = events[0][1], events[0][4]
        return AuditRow(
            seq=p[0], at=at, actor=p[2], action=p[3], record_key=p[4], diff=orjson.loads(text),
            run_id=p[6], mapping_version=p[7], prev_hash=p[8], hash=p[9],
        )  # fmt: skip

    def audit_rows(
        self, *, record_key: str | None = None, limit: int | None = None
    ) -> list[AuditRow]:
        """Rows in seq order; with `limit`, the latest `limit` rows."""
        params = (record_key, record_key, self._no_limit if limit is None else limit)
        with self._guard("read audit"):
            return [self._audit(r) for r in self._all("audit_rows", params)]

    def _iter_audit(self) -> Iterator[AuditRow]:
        last = 0
        while True:
            with self._guard("read audit"):
                page = self._all("audit_page", (last, PAGE))
            yield from (self._audit(r) for r in page)
            if len(page) < PAGE:
                return
            last = page[-1][0]

    def verify_audit(self, anchors: Mapping[int, Sequence[str]] | None = None) -> AuditVerdict:
        """Recompute the chain page by page (never the whole table in memory), and compare
        it with `anchors` (seq → head hashes recorded outside the store) when given."""
        return audit_chain.verify_chain(self._iter_audit(), anchors)

    def audit_head(self) -> AuditHead | None:
        """The chain's newest row (seq, hash), for an anchor; None while it is empty."""
        with self._guard("read audit"):
            row = self._one("audit_head", ())
        return None if row is None else AuditHead(seq=int(row[0]), hash=str(row[1]))

    # ------------------------------------------------------------------ records, postings
    def get_record(self, key: str) -> RecordRow | None:
        with self._guard("get record"):
            row = self._one("get_record", (key,))
        return None if row is None else self._record(row)

    def get_records(self, keys: Sequence[str]) -> dict[str, RecordRow]:
        if not keys:
            return {}
        with self._guard("get records"):
            rows = self._all("get_records", (self._keys(keys),))
        return {r[0]: self._record(r) for r in rows}

    def flow_versions(self, flow: str, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        with self._guard("read flow versions"):
            return dict(self._all("flow_versions", (flow, self._keys(keys))))

    def find_records(self, *, source_id: str) -> list[RecordRow]:
        with self._guard("find records"):
            return [self._record(r) for r in self._all("find_records", (source_id,))]

    def postings_for(self, record_key: str, *, flow: str | None = None) -> list[PostingRow]:
        with self._guard("read postings"):
            rows = self._all("postings_for", (record_key, flow, flow))
        return [self._posting(r) for r in rows]

    def posted_facets(self, keys: Sequence[str], *, flow: str) -> dict[str, dict[str, str]]:
        """record key -> facet -> entry hash, for many records in one query (the hot path)."""
        found: dict[str, dict[str, str]] = {}
        if not keys:
            return found
        with self._guard("read postings"):
            rows = self._all("posted_facets", (self._keys(keys), flow))
        for record_key, facet, entry_hash in rows:
            found.setdefault(record_key, {})[facet] = entry_hash
        return found

    def posting_by_key(self, idempotency_key: str) -> PostingRow | None:
        with self._guard("read posting"):
            row = self._one("posting_by_key", (idempotency_key,))
        return None if row is None else self._posting(row)

    def postings_linked(self, link: str) -> list[PostingRow]:
        """Every posting of one document (an invoice and its payments, refunds, notes)."""
        if not link:
            return []
        with self._guard("read postings"):
            return [self._posting(r) for r in self._all("postings_linked", (link,))]

    def records_linked(self, links: Sequence[str], *, flow: str) -> list[str]:
        """Records of `flow` with an entry that carries one of `links`, in one query."""
        if not links:
            return []
        with self._guard("read postings"):
            rows = self._all("records_linked", (self._keys(links), flow))
        return sorted(str(r[0]) for r in rows)

    def iter_postings(self, *, flow: str | None = None) -> Iterator[PostingRow]:
        """Every posting in insertion order, fetched a page at a time."""
        last = 0
        while True:
            with self._guard("read postings"):
                page = self._all("postings_page", (last, flow, flow, PAGE))
            yield from (self._posting(r) for r in page)
            if len(page) < PAGE:
                return
            last = page[-1][0]

    def outcomes_for(self, record_key: str) -> list[OutcomeRow]:
        with self._guard("read outcomes"):
            return [self._outcome(r) for r in self._all("outcomes_for", (record_key,))]

    def outcome_counts(self, run_id: int) -> dict[str, int]:
        with self._guard("count outcomes"):
            return {name: int(n) for name, n in self._all("outcome_counts", (run_id,))}

    # ------------------------------------------------------------------ exception queue
    def open_exceptions(self, *, flow: str | None = None) -> list[ExceptionRow]:
        with self._guard("read queue"):
            return [self._exception(r) for r in self._all("open_exceptions", (flow, flow))]

    def get_exception(self, exception_id: int) -> ExceptionRow | None:
        with self._guard("read queue"):
            row = self._one("get_exception", (exception_id,))
        return None if row is None else self._exception(row)

    def exceptions_for(self, record_key: str) -> list[ExceptionRow]:
        with self._guard("read queue"):
            return [self._exception(r) for r in self._all("exceptions_for", (record_key,))]

    def exceptions_since(self, since: datetime) -> list[ExceptionRow]:
        with self._guard("read queue history"):
            rows = self._all("exceptions_since", (self._ts(self._aware(since)),))
        return [self._exception(r) for r in rows]

    def held_waiting_on(self, record_keys: Sequence[str]) -> list[ExceptionRow]:
        if not record_keys:
            return []
        with self._guard("read queue"):
            rows = self._all("held_waiting_on", (self._keys(record_keys),))
        return [self._exception(r) for r in rows]

    def dismiss_exception(self, exception_id: int, *, actor: str, reason: str) -> None:
        """Close an open row as dismissed, with its audit row in the same transaction."""
        now = _now()
        with self._guard("dismiss exception"), self._write(lock=True) as tx:
            found = tx.execute(
                self._q["dismiss_exception"], (reason, self._ts(now), exception_id)
            ).fetchall()
            if not found:
                status = tx.execute(self._q["exception_status"], (exception_id,)).fetchall()
                if not status:
                    raise StoreError(f"no exception {exception_id} in the queue")
                raise StoreError(f"exception {exception_id} is {status[0][0]}, not open")
            event = AuditEvent(
                actor=actor, action="dismissed", record_key=found[0][0], at=now,
                diff={"status": ["open", "dismissed"], "resolution": ["", reason]},
            )  # fmt: skip
            self._append(tx, self._prepare_audit([event], now))

    # ------------------------------------------------------------------ cursors
    def get_cursor(self, flow: str, name: str) -> CursorRow | None:
        with self._guard("read cursor"):
            row = self._one("get_cursor", (flow, name))
        return None if row is None else CursorRow(flow=row[0], name=row[1], value=row[2],
                                                  position=row[3])  # fmt: skip


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
        if isinstance(exc, self._store._driver_errors):
            raise self._store._store_error(self._what, exc) from None
        return False


def _check_not_newer(applied: set[int], newest: int) -> None:
    if applied and max(applied) > newest:
        raise StoreError(
            f"the state store's schema is version {max(applied)}, newer than "
            f"this billbridge knows ({newest}); upgrade billbridge"
        )
