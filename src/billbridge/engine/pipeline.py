"""The path of one record: normalize, map, check, write, and gather its commit.

Why one class holding a batch: every record's effects (outcome, xref, audit row,
queue change) go into the current `Batch`, which the run commits in one store
transaction after the target is flushed. Look-ups see the batch first, so an invoice
earlier in the same batch counts as posted for the payment after it.

Nothing here raises for bad data: a record that cannot go becomes a `failed`, `held`
or `conflict` outcome with a readable reason, and the next record goes on.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from billbridge.connectors.base import (
    ConnectorError,
    FatalError,
    RawRecord,
    RecordError,
    Recovered,
    RetryableError,
)
from billbridge.domain import DomainError, JournalEntry, Problem, Severity, is_currency, minor_units
from billbridge.mapping.rules import Context, Planned, plan_entries
from billbridge.store.base import (
    AuditEvent,
    Batch,
    ExceptionKind,
    ExceptionRow,
    OutcomeRow,
    PostingRow,
    RecordRow,
    StoreError,
    SyncState,
)

from .approvals import APPROVAL_FIELD, Approvals, Verdict
from .book_checks import BookChecks
from .crashpoints import crashpoint
from .erase import suppress
from .holds import hold_started, timeout_texts
from .model import FlowRuntime, RunResult
from .records import RecordWriter, records_of
from .retry import FailureKind, decide

__all__ = [
    "RecordPipeline",
    "StopRun",
    "entry_hash",
    "entry_lines",
    "record_key",
    "recovered_hash",
]

_RECENT = 20_000  # parsed records kept for look-ups (related records sit close together)
# The hint of a queued write whose landing is unknown (the target failed, and so did the
# look-up after it): the next try looks the write up before it writes again.
_IN_DOUBT = (
    "billbridge retries it, and first asks the target whether the failed write landed after "
    "all; check the target if it persists"
)
_OPEN = frozenset({"held", "failed", "conflict"})  # outcomes that leave a queue row


class StopRun(Exception):  # noqa: N818 - a control signal, not an error of the record
    """A fatal connector error: commit what is done and stop the run."""


def record_key(connection: str, obj: str, ident: str) -> str:
    return f"{connection}:{obj}:{ident}"


def entry_lines(entry: JournalEntry) -> str:
    """The entry's lines as its posting keeps them for trace: "account amount currency"."""
    return "\n".join(f"{p.account} {p.amount.amount} {p.amount.currency}" for p in entry.postings)


def entry_hash(entry: JournalEntry) -> str:
    """Hash of what an entry does to the books (date and postings), not of its wording."""
    parts = [entry.date.isoformat()]
    parts.extend(f"{p.account}={p.amount.amount}{p.amount.currency}" for p in entry.postings)
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def recovered_hash(found: Recovered) -> str:
    """`entry_hash` of an entry as a target gave it back after a crash (`recover`).

    A target may hand an amount back with another exponent (GnuCash: `119`, not
    `119.00`): each is put at its currency's minor unit, as `Money` holds it, so the
    hash equals the one computed when the entry was planned.
    """
    parts = [found.date.isoformat()]
    parts.extend(
        f"{leg.account}={_at_minor_unit(leg.amount, leg.currency)}{leg.currency}"
        for leg in found.legs
    )
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def _at_minor_unit(amount: Decimal, currency: str) -> Decimal:
    if not is_currency(currency):
        return amount
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)))


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


class RecordPipeline:
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
        self._in_doubt = {row.record_key for row in queue if row.hint == _IN_DOUBT}
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

    # ------------------------------------------------------------------ look-ups
    def prefetch(self, keys: list[str], records: Sequence[RawRecord] = ()) -> None:
        """Load the stored versions and postings of a batch's records, one query each.

        Also the records they will look up (`FlowRuntime.lookups`) and do not hold yet:
        one query for the batch, so that a look-up the store cannot answer (a charge's
        payment intent, absent from an export) costs no query of its own.
        """
        self._prior = self.store.get_records(keys) if keys else {}
        self._seen = self.store.flow_versions(self.flow.name, keys) if keys else {}
        found = self.store.posted_facets(keys, flow=self.flow.name)
        for key in keys:
            self._cache_facets(key, found.get(key, {}))
        self._prefetch_lookups(records)

    def _prefetch_lookups(self, records: Sequence[RawRecord]) -> None:
        lookups = self.flow.lookups
        if not lookups:
            return
        wanted: dict[str, None] = {}
        for raw in records:
            make = lookups.get(raw.object)
            if make is None or raw.error:
                continue
            for obj_id in make(raw.data):
                key = f"{self.connection}:{obj_id}"
                if key not in self._recent and key not in self._missing:
                    wanted[key] = None
        if not wanted:
            return
        rows = self.store.get_records(list(wanted))
        for key in wanted:
            row = rows.get(key)
            if row is None:
                self._note_missing(key)
            else:
                self._remember(key, orjson.loads(row.snapshot))

    def _cache_facets(self, key: str, facets: dict[str, str]) -> None:
        self._facets[key] = facets
        self._facets.move_to_end(key)
        if len(self._facets) > _RECENT:
            self._facets.popitem(last=False)

    def resolve(self, obj: str, ident: str) -> Mapping[str, Any] | None:
        key = record_key(self.connection, obj, ident)
        cached = self._recent.get(key)
        if cached is not None:
            return cached
        if key in self._missing:
            return None
        row = self.store.get_record(key)
        if row is None:
            self._note_missing(key)
            return None
        data: dict[str, Any] = orjson.loads(row.snapshot)
        self._remember(key, data)
        return data

    def _note_missing(self, key: str) -> None:
        """Remember that the store has no `key` (bounded: forgotten all at once when full)."""
        if len(self._missing) > _RECENT:
            self._missing.clear()
        self._missing.add(key)

    def _remember(self, key: str, data: Mapping[str, Any]) -> None:
        self._missing.discard(key)
        self._recent[key] = data
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def _invoice_number(self, invoice_id: str) -> str:
        data = self.resolve("invoice", invoice_id)
        return self.flow.described(data).number if data else ""

    def _posted_facets(self, key: str) -> dict[str, str]:
        """Facets posted for `key`: committed (cached, else one query) plus this batch's."""
        committed = self._facets.get(key)
        if committed is None:
            committed = self.store.posted_facets([key], flow=self.flow.name).get(key, {})
            self._cache_facets(key, committed)
        pending = self._pending_facets.get(key)
        return {**committed, **pending} if pending else committed

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
        version = hashlib.blake2b(raw.raw, digest_size=10).hexdigest()
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

    def _write(self, key: str, version: str, planned: tuple[Planned, ...], now: datetime) -> str:
        posted = self._posted_facets(key)
        new: list[Planned] = []
        digests: list[str] = []
        for item in planned:
            digest = entry_hash(item.entry)
            if item.facet not in posted:
                new.append(item)
                digests.append(digest)
            elif posted[item.facet] and posted[item.facet] != digest:
                return self._conflict(key, version, item, now)
        if not new:
            return self._succeed(key, version, (), now)
        if self.dry_run:
            self.result.dry_run_entries.append(self.flow.target.render([p.entry for p in new]))
            self.result.posted += len(new)
            return self._count("synced")
        outcome = self._write_with_retry(key, version, new, now)
        if outcome is not None:
            return outcome
        self.result.posted += len(new)
        return self._succeed(key, version, tuple(new), now, ref=self._last_ref, digests=digests)

    _last_ref = ""

    def _landed(
        self, entries: Sequence[Planned], *, failed_here: bool
    ) -> dict[str, str] | ConnectorError:
        """Idempotency key → ref of those `entries` the target holds already.

        Look-up before create: a write that failed (a timeout after the commit, a
        connection lost before the answer) may have landed; writing it again would post
        it twice. The look-up's own error when it fails: whether it landed is unknown.
        A write that `failed_here` on a target that promises `all_or_nothing` left
        nothing, so it is not looked up; one queued in doubt by an earlier run always is.
        """
        if failed_here and getattr(self.flow.target, "all_or_nothing", False):
            return {}
        try:
            return dict(self.flow.target.find([p.entry.key for p in entries]))
        except ConnectorError as exc:
            return exc

    def _write_with_retry(
        self, key: str, version: str, entries: list[Planned], now: datetime
    ) -> str | None:
        """Write `entries`; a passing failure is retried with backoff, then queued.

        After a failed write the target is asked whether it landed before anything is
        written again, and a write is never repeated while that is unknown (a look-up
        that fails is retried instead, and the record is queued as in doubt, so the next
        try asks first). A record queued in doubt by an earlier run is looked up first.
        """
        attempt = 0
        refs: list[str] = []
        pending = entries
        doubted = ask = key in self._in_doubt  # whether it may have landed: ask first
        self._in_doubt.discard(key)
        wait = False  # a write failed: back off before the next one
        error = ""
        while pending:
            if ask:
                landed = self._landed(pending, failed_here=not doubted)
                if isinstance(landed, ConnectorError):
                    error = error or f"cannot ask the target whether the write landed: {landed}"
                else:
                    ask = False
                    refs.extend(landed.values())
                    pending = [p for p in pending if p.entry.key not in landed]
                    if not pending:
                        break
            if not ask and not wait:
                try:
                    written = self.flow.target.write([p.entry for p in pending])
                except RetryableError as exc:
                    error, ask, wait = str(exc), True, True
                    continue  # it may have landed: ask at once
                except RecordError as exc:
                    problem = Problem(
                        record=key,
                        field="target",
                        message=str(exc),
                        hint="the target refused this record; fix it and replay",
                    )
                    return self._fail(key, version, (problem,), FailureKind.PERMANENT, now)
                except FatalError as exc:
                    self._stopped(key, version, str(exc), now)
                    raise StopRun(str(exc)) from exc
                crashpoint("after-write")
                refs.append(written.ref)
                break
            attempt += 1
            decision = decide(
                FailureKind.RETRYABLE,
                attempt=attempt,
                policy=self.flow.retry,
                now=now,
                jitter=self.rng.random(),
            )
            if decision.retry_now:
                self.sleep(decision.wait_seconds)
                wait = False
                continue
            self._consecutive_retryable += 1
            problem = Problem(
                record=key,
                field="target",
                message=error,
                hint=_IN_DOUBT if ask else "billbridge retries it; check the target if it persists",
            )
            return self._fail(
                key,
                version,
                (problem,),
                FailureKind.RETRYABLE,
                now,
                next_try_at=decision.next_try_at,
                attempts=attempt,
            )
        self._consecutive_retryable = 0
        self._last_ref = ", ".join(refs)
        return None

    def _stopped(self, key: str, version: str, reason: str, now: datetime) -> None:
        """The target stopped the run while writing `key`: leave the record unprocessed.

        The run commits its batch before it stops, so the record must not be committed as
        seen (it would be `unchanged` from then on, with nothing posted): its version is
        taken back out of the batch, and a retryable queue row due now says why and makes
        the next sync write it first.
        """
        entry = (self.flow.name, key, version)
        self.batch.flow_versions[:] = [v for v in self.batch.flow_versions if v != entry]
        self._seen.pop(key, None)
        problem = Problem(
            record=key,
            field="target",
            message=f"the target stopped the run before this record was written: {reason}",
            hint="fix the target; the next sync writes this record first",
        )
        self._fail(key, version, (problem,), FailureKind.RETRYABLE, now, next_try_at=now)

    # ------------------------------------------------------------------ outcomes
    @staticmethod
    def _count(outcome: str) -> str:
        return outcome

    def _succeed(
        self,
        key: str,
        version: str,
        planned: tuple[Planned, ...],
        now: datetime,
        *,
        ref: str = "",
        digests: Sequence[str] = (),
    ) -> str:
        """`digests`: the entry hash of each of `planned` (`_write` computed them)."""
        if self.dry_run:
            return self._count("synced")
        batch = self.batch
        mapping_version = self.flow.mapping.version
        if planned:
            pending = self._pending_facets.setdefault(key, {})
            for item, digest in zip(planned, digests, strict=True):
                pending[item.facet] = digest
                batch.postings.append(
                    PostingRow(
                        flow=self.flow.name,
                        record_key=key,
                        facet=item.facet,
                        idempotency_key=item.entry.key,
                        version=version,
                        entry_hash=digest,
                        target=self.flow.target.name,
                        target_ref=ref,
                        run_id=self.run_id,
                        posted_at=now,
                        summary=item.entry.narration,
                        link=item.entry.links[0] if item.entry.links else "",
                        lines=entry_lines(item.entry),
                        mapping_version=mapping_version,
                    )
                )
            self.posted_keys.append(key)
            batch.audit.append(
                AuditEvent(
                    actor=self.actor,
                    action="posted",
                    record_key=key,
                    run_id=self.run_id,
                    mapping_version=mapping_version,
                    at=now,
                    diff={
                        "postings": [None, [p.facet for p in planned]],
                        "version": [None, version],
                    },
                )
            )
        # A synced record needs no attempt row: its postings and audit row say it all, and
        # a backfill of a million records should not write a million more rows.
        if key in self._queued:
            self._queued.discard(key)
            self._waiting.pop(key, None)
            batch.closed_exceptions.append((self.flow.name, key, f"synced in run {self.run_id}"))
        return self._count("synced")

    def _fail(
        self,
        key: str,
        version: str,
        problems: tuple[Problem, ...],
        kind: FailureKind,
        now: datetime,
        *,
        next_try_at: datetime | None = None,
        attempts: int = 1,
    ) -> str:
        first = problems[0]
        message = "; ".join(p.message for p in problems)
        hint = first.hint
        retryable = kind is FailureKind.RETRYABLE
        self._record_problem(
            key,
            version,
            "failed",
            message,
            first.field,
            hint,
            now,
            retryable=retryable,
            next_try_at=next_try_at,
            action="failed",
            extra={"attempts_in_run": attempts} if retryable else {},
        )
        return self._count("failed")

    def _hold(self, key: str, version: str, waiting_on: str, reason: str, now: datetime) -> str:
        """Hold `key` until `waiting_on` arrives or posts; past the flow's hold timeout, fail
        it with what it waits for (it is still released if that comes later)."""
        since = hold_started(self._waiting.get(key), waiting_on, now)
        timeout = self.flow.hold_timeout
        if now - since >= timeout:
            message, hint = timeout_texts(
                flow=self.flow.name, waiting_on=waiting_on, reason=reason, since=since,
                timeout=timeout,
            )  # fmt: skip
            kind: ExceptionKind = "failed"
            field, action = "waiting_on", "hold-timed-out"
        else:
            kind, message, field, action = "held", reason, "", "held"
            hint = "released automatically when it arrives or posts"
        self._record_problem(
            key, version, kind, message, field, hint, now, waiting_on=waiting_on,
            held_since=since, action=action,
        )  # fmt: skip
        if not self.dry_run:
            self._waiting[key] = ExceptionRow(
                flow=self.flow.name, record_key=key, version=version, kind=kind,
                error=message, at=now, waiting_on=waiting_on, held_since=since,
            )  # fmt: skip
            self.awaited.add(waiting_on)
        return self._count(kind)

    def _approval(self, key: str, version: str, verdict: Verdict, now: datetime) -> str:
        """Held for a person (never released automatically), or failed by their rejection."""
        if verdict.kind == "reject":
            problem = Problem(
                record=key, field=APPROVAL_FIELD, message=verdict.message, hint=verdict.hint
            )
            return self._fail(key, version, (problem,), FailureKind.PERMANENT, now)
        self._record_problem(
            key, version, "held", verdict.message, APPROVAL_FIELD, verdict.hint, now,
            action="held",
        )  # fmt: skip
        return self._count("held")

    def _conflict(self, key: str, version: str, item: Planned, now: datetime) -> str:
        message = (
            f"the {item.facet!r} entry already posted for this record differs from what the "
            f"current mapping ({self.flow.mapping.version}) gives; billbridge never edits a posting"
        )
        hint = "post a correcting entry by hand or restore the mapping, then dismiss this row"
        self._record_problem(
            key, version, "conflict", message, "postings", hint, now, action="conflict"
        )
        return self._count("conflict")

    def _record_problem(
        self,
        key: str,
        version: str,
        kind: ExceptionKind,
        message: str,
        field: str,
        hint: str,
        now: datetime,
        *,
        retryable: bool = False,
        waiting_on: str = "",
        next_try_at: datetime | None = None,
        held_since: datetime | None = None,
        action: str,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if self.dry_run:  # nothing is queued; the preview still says why it would fail
            self.result.dry_run_problems.append(
                {"record": key, "outcome": kind, "error": message, "field": field, "hint": hint}
            )
            return
        batch = self.batch
        self._queued.add(key)
        if not waiting_on:
            self._waiting.pop(key, None)
        batch.outcomes.append(
            OutcomeRow(
                run_id=self.run_id,
                flow=self.flow.name,
                record_key=key,
                version=version,
                outcome=kind,
                at=now,
                retryable=retryable,
                error=message,
                field=field,
                hint=hint,
            )
        )
        batch.exceptions.append(
            ExceptionRow(
                flow=self.flow.name,
                record_key=key,
                version=version,
                kind=kind,
                error=message,
                at=now,
                field=field,
                hint=hint,
                retryable=retryable,
                waiting_on=waiting_on,
                next_try_at=next_try_at,
                held_since=held_since,
            )
        )
        batch.audit.append(
            AuditEvent(
                actor=self.actor,
                action=action,
                record_key=key,
                run_id=self.run_id,
                mapping_version=self.flow.mapping.version,
                at=now,
                diff={"error": [None, message], "field": [None, field], **(extra or {})},
            )
        )

    def take_batch(self) -> Batch:
        """Hand the batch to the committer; its postings count as committed from now on."""
        batch, self.batch = self.batch, Batch()
        for key, facets in self._pending_facets.items():
            self._cache_facets(key, {**self._facets.get(key, {}), **facets})
        self._pending_facets = {}
        if not self.dry_run:
            self.books.batch_taken()
        return batch
