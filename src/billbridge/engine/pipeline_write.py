"""The pipeline's write step: post a record's new entries to the target, exactly once.

Why a layer of its own: this is where a record meets the outside system, so this is
where retries with backoff, look-up before create after a failed write, and records
in doubt live. A write is never repeated while whether it landed is unknown.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime

from billbridge.connectors.base import (
    ConnectorError,
    FatalError,
    RecordError,
    RetryableError,
)
from billbridge.domain import Problem
from billbridge.mapping.rules import Planned

from .crashpoints import crashpoint
from .entries import entry_hash
from .model import StopRun
from .pipeline_outcomes import Outcomes
from .retry import FailureKind, decide

__all__ = ["IN_DOUBT", "TargetWrites"]

# The hint of a queued write whose landing is unknown (the target failed, and so did the
# look-up after it): the next try looks the write up before it writes again.
IN_DOUBT = (
    "billbridge retries it, and first asks the target whether the failed write landed after "
    "all; check the target if it persists"
)


class TargetWrites(Outcomes):
    """Writes of one flow's pipeline (the state lives in `RecordPipeline.__init__`)."""

    sleep: Callable[[float], None]
    rng: random.Random
    _in_doubt: set[str]
    _consecutive_retryable: int

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
                hint=IN_DOUBT if ask else "billbridge retries it; check the target if it persists",
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
