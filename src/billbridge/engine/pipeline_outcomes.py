"""The pipeline's outcomes: what a record's end adds to the batch the run commits.

Why a layer of its own: every way a record can end — synced, failed, held, held for a
person, in conflict — adds rows to the current `Batch` (postings, outcome, queue row,
audit event) and keeps the pipeline's view of the queue current; the path itself only
decides which end it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from billbridge.domain import Problem
from billbridge.mapping.rules import Planned
from billbridge.store.base import (
    AuditEvent,
    Batch,
    ExceptionKind,
    ExceptionRow,
    OutcomeRow,
    PostingRow,
)

from .approvals import APPROVAL_FIELD, Verdict
from .book_checks import BookChecks
from .entries import entry_lines
from .holds import hold_started, timeout_texts
from .model import RunResult
from .pipeline_lookups import Lookups
from .retry import FailureKind

__all__ = ["Outcomes"]


class Outcomes(Lookups):
    """Outcomes of one flow's pipeline (the state lives in `RecordPipeline.__init__`)."""

    run_id: int
    actor: str
    result: RunResult
    dry_run: bool
    batch: Batch
    posted_keys: list[str]  # record keys that posted in this batch
    books: BookChecks
    _queued: set[str]
    _waiting: dict[str, ExceptionRow]
    awaited: set[str]

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
