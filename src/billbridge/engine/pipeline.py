"""The path of one record: normalize, map, check, write, and gather its commit.

Why one class holding a batch: every record's effects (outcome, xref, audit row,
queue change) go into the current `Batch`, which the run commits in one store
transaction after the target is flushed. Look-ups see the batch first, so an invoice
earlier in the same batch counts as posted for the payment after it.

Nothing here raises for bad data: a record that cannot go becomes a `failed`, `held`
or `conflict` outcome with a readable reason, and the next record goes on.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from billbridge.connectors.base import RawRecord
from billbridge.domain import DomainError, Problem, Severity
from billbridge.mapping.rules import Context, plan_entries
from billbridge.store.base import Batch, RecordRow, StoreError, SyncState

from .approvals import Approvals
from .book_checks import BookChecks
from .entries import entry_hash, entry_lines, record_key, record_version
from .erase import suppress
from .model import FlowRuntime, RunResult, StopRun
from .pipeline_write import IN_DOUBT, TargetWrites
from .records import RecordWriter, records_of
from .retry import FailureKind

# The hashes moved to `entries.py`; they stay importable from here for older callers.
__all__ = ["RecordPipeline", "StopRun", "entry_hash", "entry_lines", "record_key"]

_OPEN = frozenset({"held", "failed", "conflict"})  # outcomes that leave a queue row

# What is not one record's fault: the store or the disk failing, memory running out. These
# stop the run as before; anything else raised while reading or mapping one record fails
# that record alone.
_INFRASTRUCTURE = (StoreError, OSError, MemoryError)


def _unexpected(key: str, step: str, exc: Exception) -> tuple[Problem, ...]:
    """A record's permanent failure, in words, for an exception nothing foresaw."""
    if isinstance(exc, DomainError) and exc.problems:
        return exc.problems
    return (
        Problem(
            record=key,
            field="",
            message=f"billbridge could not {step} this record: {type(exc).__name__}: {exc}",
            hint="a case billbridge does not handle yet: report it with the record "
            f"(`billbridge trace {key}`); the rest of the run went on",
        ),
    )


class RecordPipeline(TargetWrites):
    """Processes records of one flow into the current batch; the run loop commits it."""

    def __init__(
        self,
        *,
        flow: FlowRuntime,
        store: SyncState,
        run_id: int,
        actor: str,
        result: RunResult,
        dry_run: bool = False,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.flow = flow
        self.store = store
        self.run_id = run_id
        self.actor = actor
        self.result = result
        self.dry_run = dry_run
        self.now = now
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.connection = flow.source.name
        self.batch = Batch()
        self.posted_keys: list[str] = []  # record keys that posted in this batch
        self._pending_facets: dict[str, dict[str, str]] = {}  # record -> facet -> entry hash
        self._recent: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._missing: set[str] = set()  # keys looked up and not held (until remembered)
        self._facets: OrderedDict[str, dict[str, str]] = OrderedDict()  # committed postings
        queue = store.open_exceptions(flow=flow.name)
        self._queued = {row.record_key for row in queue}
        # open rows that wait for a record, and the records they wait for: a batch that
        # stores one of those releases its waiters (see engine/holds.py)
        self._waiting = {row.record_key: row for row in queue if row.waiting_on}
        self.awaited = {row.waiting_on for row in self._waiting.values()}
        # Records whose last write failed and could not be looked up: it may have landed.
        self._in_doubt = {row.record_key for row in queue if row.hint == IN_DOUBT}
        self._prior: dict[str, RecordRow] = {}
        self._seen: dict[str, str] = {}  # record -> version this flow last processed
        self._consecutive_retryable = 0
        self._open_in_run: dict[str, str] = {}  # records whose outcome may still change
        # Accounting hook (engine/book_checks.py): related invoices for the rules, number checks.
        self.books = BookChecks(flow=flow, store=store, resolve=self.resolve, dry_run=dry_run)
        # A record flow's last step (engine/records.py); None for a ledger flow.
        records = records_of(flow.target)
        self.records = RecordWriter(self, records) if records is not None else None
        # Approval hook (engine/approvals.py): risky records held until a person decides.
        self.approvals = Approvals(flow=flow, store=store, resolve=self.resolve)
        # GDPR: subjects erased from this source (engine/erase.py), full keys and object:id
        erased: Mapping[str, str] = getattr(store, "erased_subjects", dict)()
        self.erased_keys = frozenset(k for k, c in erased.items() if c == self.connection)
        self._erased = frozenset(k.split(":", 1)[1] for k in self.erased_keys)

    # ------------------------------------------------------------------ the path
    def process(self, raw: RawRecord, *, force: bool = False) -> str:
        """Run one record through the path; count and return its outcome.

        A record counts once per run, by its last outcome: one held early in the run and
        released when its invoice posts counts as synced, not as both.
        """
        key = record_key(self.connection, raw.object, raw.id)
        try:
            outcome = self._process(raw, key, force=force)
        except StopRun:
            self._tally(key, "failed")  # `_stopped` queued it before the run stops
            raise
        if outcome == "unchanged" and key in self._open_in_run:
            return self._open_in_run[key]  # re-read as it was: what it got earlier stands
        self._tally(key, outcome)
        return outcome

    def unchanged(self, key: str) -> None:
        """Count a record `prefetch` found unchanged, as `process` would have."""
        if key not in self._open_in_run:  # re-read as it was: what it got earlier stands
            self._tally(key, "unchanged")

    def revisit(self, raw: RawRecord) -> str:
        """Run a record again because another one brought what it lacked (its invoice link).

        It was counted when it was read; it counts again only when it now ends held,
        failed or in conflict (a problem shows in the run's figures), or when it was
        open earlier in this run. A close of its queue row planned earlier in this batch
        is dropped when it ends open again (the close would run after the new row).
        """
        key = record_key(self.connection, raw.object, raw.id)
        outcome = self._process(raw, key, force=True)
        if outcome in _OPEN:
            self.batch.closed_exceptions = [
                c for c in self.batch.closed_exceptions if c[:2] != (self.flow.name, key)
            ]
        if outcome in _OPEN or key in self._open_in_run:
            self._tally(key, outcome)
        return outcome

    def _tally(self, key: str, outcome: str) -> None:
        counts = self.result.counts
        earlier = self._open_in_run.pop(key, None)
        if earlier is not None:
            counts[earlier] -= 1
        counts[outcome] += 1
        if outcome in _OPEN:
            self._open_in_run[key] = outcome

    def _process(self, raw: RawRecord, key: str, *, force: bool) -> str:
        now = self.now()
        if raw.error:
            problem = Problem(
                record=key,
                field="line",
                message=raw.error,
                hint="fix the line in the export file (or remove it), then `billbridge retry "
                "--all` reads it again (or `billbridge queue dismiss ID --reason …`)",
            )
            return self._fail(key, "", (problem,), FailureKind.PERMANENT, now)
        if self._erased and self.flow.redact is not None:
            raw = suppress(raw, self.flow.subjects, self.flow.redact, self._erased)
        version = record_version(raw.raw)
        # "Unchanged" is per flow: two flows reading one connection share its snapshot.
        if self._seen.get(key) == version and not force:
            return self._count("unchanged")
        prior = self._prior.get(key)
        self._remember(key, raw.data)
        if not self.dry_run and self._seen.get(key) != version:
            self.batch.flow_versions.append((self.flow.name, key, version))
        if not self.dry_run and (prior is None or prior.version != version):
            self.batch.records.append(
                RecordRow(
                    key=key,
                    connection=self.connection,
                    object=raw.object,
                    source_id=raw.id,
                    version=version,
                    snapshot=raw.raw,
                    seen_at=now,
                )
            )
            self._aliases(raw, version, now)
        try:
            normalized = self.flow.normalize(raw.data, record=key, resolve=self.resolve)
        except _INFRASTRUCTURE:
            raise
        except Exception as exc:  # one record's defect must never stop the run
            return self._fail(
                key, version, _unexpected(key, "read", exc), FailureKind.PERMANENT, now
            )
        found = normalized.problems
        errors = tuple(p for p in found if p.severity is Severity.ERROR) if found else ()
        if errors:
            return self._fail(key, version, errors, FailureKind.PERMANENT, now)
        if normalized.waiting_on is not None:
            obj, ident = normalized.waiting_on
            return self._hold(
                key,
                version,
                record_key(self.connection, obj, ident),
                normalized.reason or f"waiting for {obj} {ident}",
                now,
            )
        if normalized.value is None:
            return self._succeed(key, version, (), now)
        if self.records is not None:
            return self.records.write(key, version, normalized.value, now)
        ctx = Context(
            flow=self.flow.name,
            connection=self.connection,
            record=key,
            version=version,
            invoice_number=self._invoice_number,
            invoice=self.books.invoice,
            payment_object=self.flow.payment_object,
            posted=self._posted_facets,
        )
        try:
            plan = plan_entries(normalized.value, self.flow.mapping, ctx)
            plan = self.books.check(
                key,
                normalized.value,
                plan,
                batch=self.batch,
                actor=self.actor,
                run_id=self.run_id,
                now=now,
            )
        except _INFRASTRUCTURE:
            raise
        except Exception as exc:  # one record's defect must never stop the run
            return self._fail(
                key, version, _unexpected(key, "map", exc), FailureKind.PERMANENT, now
            )
        if plan.problems:
            return self._fail(key, version, plan.problems, FailureKind.PERMANENT, now)
        for req in plan.requires:
            if req.facet not in self._posted_facets(req.record):
                return self._hold(key, version, req.record, req.reason, now)
        if self.flow.approvals:  # no rules, no cost on the hot path
            verdict = self.approvals.check(
                key, version, normalized.value, plan.entries, prior=prior,
                posted=self._posted_facets,
            )  # fmt: skip
            if verdict is not None:
                return self._approval(key, version, verdict, now)
        return self._write(key, version, plan.entries, now)

    def _aliases(self, raw: RawRecord, version: str, now: datetime) -> None:
        """Index a record under extra keys (e.g. an invoice_payment by its payment id)."""
        make = self.flow.aliases.get(raw.object)
        if make is None:
            return
        for alias_obj_id in make(raw.data):
            obj, _, ident = alias_obj_id.partition(":")
            key = record_key(self.connection, obj, ident)
            self._remember(key, raw.data)
            self.batch.records.append(
                RecordRow(
                    key=key,
                    connection=self.connection,
                    object=obj,
                    source_id=ident,
                    version=version,
                    snapshot=raw.raw,
                    seen_at=now,
                )
            )
