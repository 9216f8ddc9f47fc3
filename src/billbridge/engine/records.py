"""Record flows: canonical objects written to a system that keeps records (a CRM, Stripe).

Why inside the record path and not beside it: a record flow shares everything a ledger
flow has — the run loop and its batches, outcomes, the exception queue, retry and
replay, the audit log, trace. Only the last step differs: instead of journal entries
appended to a ledger, one object is created or updated in the target
(`connectors/records.py` draws the protocol and the steps).

What the store keeps: each write is a posting row of facet `record` (idempotency key
`flow|record|record-N@digest` for the N-th write of that record), whose `entry_hash` is the
content hash of the fields written and whose `target_ref` is the object's id in the
target. The last row says what the target holds as far as billbridge knows: the same
fields again send nothing; other fields update that object. When the store knows no id
(a first write, or a write whose commit a crash lost), the target is searched by our
record key first, so a replay never creates a second object.

Personal data stays out of the audit log and previews: they name the fields written,
never their values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

from billbridge.connectors.base import (
    FatalError,
    RecordError,
    RetryableError,
    TargetConnector,
    Written,
)
from billbridge.connectors.records import Held, LinkedTarget, MissingReference, RecordTarget
from billbridge.domain import (
    Canonical,
    CreditNote,
    Customer,
    Deal,
    Deleted,
    Invoice,
    JournalEntry,
    Payment,
    Payout,
    Problem,
    Refund,
)
from billbridge.store.base import AuditEvent, PostingRow

from .crashpoints import crashpoint
from .model import StopRun
from .notify import upgrade_notice
from .record_sides import SideWrites
from .retry import FailureKind, decide

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .pipeline import RecordPipeline

__all__ = ["OBJECT_KINDS", "RECORD_FACET", "LedgerlessTarget", "RecordWriter", "fields_digest"]

RECORD_FACET: Final = "record"
OBJECT_KINDS: Final[Mapping[type, str]] = {
    Customer: "customer",
    Invoice: "invoice",
    CreditNote: "credit_note",
    Payment: "payment",
    Refund: "refund",
    Payout: "payout",
    Deal: "deal",
    Deleted: "deleted",
}
_KEPT: Final = 20_000  # records whose last write this run is remembered (bounded)


def fields_digest(fields: Mapping[str, Any]) -> str:
    """The content hash of what is written: the same fields, the same digest, any order."""
    data = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(data, digest_size=12).hexdigest()


class LedgerlessTarget:
    """A record target seen through the ledger protocol the run loop speaks.

    The run loop recovers and flushes its target around every batch; a system of records
    has no append-only position to recover from (a lost commit is found by look-up
    before create instead), so both are empty here. Journal entries never reach it.
    """

    def __init__(self, records: RecordTarget) -> None:
        self.records = records
        self.name = records.name

    def recover(self, committed_position: int) -> Mapping[str, str]:
        return {}

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        return {}

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        raise FatalError(f"{self.name!r} keeps records; it takes no journal entries")

    def flush(self) -> int:
        return 0

    def render(self, entries: Sequence[JournalEntry]) -> str:
        return ""

    def close(self) -> None:
        self.records.close()


def records_of(target: TargetConnector) -> RecordTarget | None:
    """The record target behind a flow's target, when the flow is a record flow."""
    return target.records if isinstance(target, LedgerlessTarget) else None


class RecordWriter(SideWrites):
    """The last step of a record flow's path, for one pipeline (one run)."""

    def __init__(self, pipe: RecordPipeline, target: RecordTarget) -> None:
        self.pipe = pipe
        self.target = target
        # record key -> (digest, id in the target, writes so far) of this run's writes,
        # not committed yet when the record comes round again in the same batch
        self._written: dict[str, tuple[str, str, int]] = {}
        self._held: dict[str, Held] = {}  # the last write's answer per record (this batch)

    def _last(self, key: str) -> tuple[str, str, int] | None:
        mine = self._written.get(key)
        if mine is not None:
            return mine
        rows = [
            r
            for r in self.pipe.store.postings_for(key, flow=self.pipe.flow.name)
            if r.facet == RECORD_FACET
        ]
        if not rows:
            return None
        return rows[-1].entry_hash, rows[-1].target_ref, len(rows)

    def write(self, key: str, version: str, value: Canonical, now: datetime) -> str:
        """A two-way object goes through its pair (engine/twoway.py); the rest is written.

        A record of an erased data subject is never written to another system again.
        """
        if key in self.pipe.erased_keys:
            return self.pipe._succeed(key, version, (), now)
        twoway = self.pipe.flow.twoway
        obj = value.object if isinstance(value, Deleted) else OBJECT_KINDS[type(value)]
        if twoway is not None and twoway.handles(obj):
            return twoway.sync(self, key, version, value, now)
        return self.write_plain(key, version, value, now)

    def xref(self, obj: str, ident: str) -> str | None:
        """The id in the target of a record this one names (two-way link, else our write)."""
        key = f"{self.pipe.connection}:{obj}:{ident}"
        twoway = self.pipe.flow.twoway
        if twoway is not None:
            found = twoway.linked_id(self.pipe.store, key)  # type: ignore[arg-type]
            if found:
                return found
        last = self._last(key)
        return last[1] if last is not None and last[1] else None

    def _fields(self, value: Canonical, key: str) -> Mapping[str, Any] | None:
        if isinstance(self.target, LinkedTarget):
            return self.target.fields_linked(value, record_key=key, xref=self.xref)
        return self.target.fields(value, record_key=key)

    def last_written(self, key: str) -> Held:
        """The target's answer to the last write of `key` in this run."""
        return self._held[key]

    def write_plain(self, key: str, version: str, value: Canonical, now: datetime) -> str:
        pipe = self.pipe
        if isinstance(value, Deleted):
            return self._deleted(key, version, value, now)
        obj = OBJECT_KINDS[type(value)]
        try:
            asked = self._fields(value, key)
        except MissingReference as ref:
            waits = f"{pipe.connection}:{ref.object}:{ref.id}"
            if waits in pipe.erased_keys:  # it names an erased person: nothing to write
                return pipe._succeed(key, version, (), now)
            reason = f"waiting for {waits} to be written to {self.target.name} first"
            return pipe._hold(key, version, waits, reason, now)
        except RecordError as exc:
            hint = f"correct the {obj} in its source so {self.target.name} can take it, then replay"
            return self._failed(key, version, "fields", str(exc), hint, now)
        if asked is None:
            return pipe._succeed(key, version, (), now)  # the target keeps no such object
        digest = fields_digest(asked)
        last = self._last(key)
        if last is not None and last[0] == digest:
            return pipe._succeed(key, version, (), now)  # the target has these fields
        if pipe.dry_run:
            what = "update" if last is not None else "create or update"
            pipe.result.dry_run_entries.append(
                f"{self.target.name}: {what} {obj} for {key}: {', '.join(sorted(asked))}"
            )
            pipe.result.posted += 1
            return "synced"
        count = last[2] + 1 if last is not None else 1
        # The N-th write of the record, and what it writes: a retry of the same write sends
        # the same key; other fields after a refusal send another.
        idem = f"{pipe.flow.name}|{key}|{RECORD_FACET}-{count}@{digest}"
        sent = self._send_with_retry(key, version, obj, asked, last[1] if last else "", idem, now)
        if isinstance(sent, str):
            return sent  # failed (queued) or stopped
        how, held = sent
        crashpoint("after-write")
        problem = self._verify(obj, asked, held)
        if problem:
            hint = (
                f"check {obj} {held.id} in {self.target.name}; it may refuse or rewrite the value"
            )
            return self._failed(key, version, "target", problem, hint, now)
        self._written[key] = (digest, held.id, count)
        self._held[key] = held
        if len(self._written) > _KEPT:
            self._written.clear()
            self._held.clear()
        self._record(key, version, obj, asked, how, held, idem, digest, now)
        if how != "found":
            pipe.result.posted += 1
        if how == "updated" and pipe.flow.notify_upgrades:
            notice = upgrade_notice(pipe, key, version, value, now)
            if notice is not None:
                pipe.batch.statements.append(notice)
        return "synced"

    def _send(
        self, obj: str, key: str, asked: Mapping[str, Any], ident: str, idem: str
    ) -> tuple[str, Held]:
        """Look up before create whenever the store knows no id; then create or update."""
        if not ident:
            found = self.target.find(obj, key, asked)
            if found is not None:
                if not self.target.differences(asked, found.fields):
                    return "found", found  # an earlier write landed; its commit was lost
                ident = found.id
        if ident:
            return "updated", self.target.update(obj, ident, key, asked, idempotency_key=idem)
        return "created", self.target.create(obj, key, asked, idempotency_key=idem)

    def _send_with_retry(
        self,
        key: str,
        version: str,
        obj: str,
        asked: Mapping[str, Any],
        ident: str,
        idem: str,
        now: datetime,
    ) -> tuple[str, Held] | str:
        pipe = self.pipe
        attempt = 0
        while True:
            try:
                return self._send(obj, key, asked, ident, idem)
            except RetryableError as exc:
                attempt += 1
                decision = decide(
                    FailureKind.RETRYABLE,
                    attempt=attempt,
                    policy=pipe.flow.retry,
                    now=now,
                    jitter=pipe.rng.random(),
                )
                if decision.retry_now:
                    pipe.sleep(decision.wait_seconds)
                    continue
                problem = Problem(
                    record=key,
                    field="target",
                    message=str(exc),
                    hint="billbridge retries it (looking the object up first); check the "
                    "target if it persists",
                )
                return pipe._fail(
                    key,
                    version,
                    (problem,),
                    FailureKind.RETRYABLE,
                    now,
                    next_try_at=decision.next_try_at,
                    attempts=attempt,
                )
            except RecordError as exc:
                hint = f"{self.target.name} refused this {obj}; fix it in its source and replay"
                return self._failed(key, version, "target", str(exc), hint, now)
            except FatalError as exc:
                raise StopRun(str(exc)) from exc

    def _verify(self, obj: str, asked: Mapping[str, Any], held: Held) -> str:
        """Read the object back: "" when it holds every asked field as asked."""
        try:
            back = self.target.read(obj, held.id)
        except RetryableError:
            back = held  # the write's own answer is the best evidence left
        except RecordError:
            back = None
        if back is None:
            return f"{obj} {held.id} is gone from {self.target.name} right after the write"
        differ = self.target.differences(asked, back.fields)
        if differ:
            return (
                f"{obj} {held.id} does not hold the written value of "
                f"{', '.join(differ)} when read back"
            )
        return ""

    def _failed(
        self, key: str, version: str, field: str, message: str, hint: str, now: datetime
    ) -> str:
        problem = Problem(record=key, field=field, message=message, hint=hint)
        return self.pipe._fail(key, version, (problem,), FailureKind.PERMANENT, now)

    def _record(
        self,
        key: str,
        version: str,
        obj: str,
        asked: Mapping[str, Any],
        how: str,
        held: Held,
        idem: str,
        digest: str,
        now: datetime,
    ) -> None:
        """The write's posting row, its audit row (field names only), the queue row closed."""
        pipe = self.pipe
        batch = pipe.batch
        batch.postings.append(
            PostingRow(
                flow=pipe.flow.name,
                record_key=key,
                facet=RECORD_FACET,
                idempotency_key=idem,
                version=version,
                entry_hash=digest,
                target=self.target.name,
                target_ref=held.id,
                run_id=pipe.run_id,
                posted_at=now,
                summary=f"{how} {obj} {held.id} in {self.target.name}",
            )
        )
        batch.audit.append(
            AuditEvent(
                actor=pipe.actor,
                action="written",
                record_key=key,
                run_id=pipe.run_id,
                mapping_version=pipe.flow.mapping.version,
                at=now,
                diff={
                    "how": [None, how],
                    "object": [None, f"{self.target.name}:{obj}:{held.id}"],
                    "fields": [None, sorted(asked)],
                    "version": [None, version],
                },
            )
        )
        pipe.posted_keys.append(key)
        if key in pipe._queued:
            pipe._queued.discard(key)
            batch.closed_exceptions.append((pipe.flow.name, key, f"synced in run {pipe.run_id}"))
