"""The engine's own values: what a flow needs at run time, and what a run reports.

Why a `FlowRuntime` bundle: the engine never imports a concrete connector; the CLI
(or the service) builds the source, the target and the normalizer from the workspace
and hands them over here, so the same engine runs any pair of systems.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from billbridge.change_config import ApprovalRule
from billbridge.connectors.base import SourceConnector, SourceFigures, TargetConnector
from billbridge.connectors.source import (
    Describe,
    Described,
    Normalize,
    NormalizedLike,
    ParseEvent,
    Resolve,
    SourceCheck,
)
from billbridge.mapping.model import Mapping as MappingFile

from .mapping_change import FlowMapping
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .twoway import TwoWaySync

__all__ = [
    "OUTCOMES",
    "FlowRuntime",
    "Normalize",
    "NormalizedLike",
    "Resolve",
    "RunResult",
    "StopRun",
    "rate_limit_json",
]

OUTCOMES = ("synced", "unchanged", "failed", "held", "conflict")


class StopRun(Exception):  # noqa: N818 - a control signal, not an error of the record
    """A fatal connector error: commit what is done and stop the run."""


def _nothing(_object: str, _id: str, /) -> Mapping[str, Any] | None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRuntime:
    name: str
    source: SourceConnector
    target: TargetConnector
    normalize: Normalize
    mapping: MappingFile
    retry: RetryPolicy = RetryPolicy()
    batch_size: int = 1000
    aliases: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = field(default_factory=dict)
    # "object:id" of the records a record of this type may look up while normalized:
    # fetched for a whole batch in one query (see connectors/source.py).
    lookups: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = field(default_factory=dict)
    # How far along its life a source object is (a tuple that never decreases), or None
    # when unknown: decides between two webhook events about one object stamped with
    # the same time. The source's format module provides it; None: arrival order decides.
    lifecycle: Callable[[Mapping[str, Any]], tuple[int, ...] | None] | None = None
    # The rest of the source's model (connectors/source.py): cheap facts of a raw record,
    # the record a webhook event carries, and the reconcile checks only the source can make.
    describe: Describe | None = None
    parse_event: ParseEvent | None = None
    checks: tuple[SourceCheck, ...] = ()
    payment_object: str = "payment"  # see SourceModel.payment_object

    def described(self, data: Mapping[str, Any]) -> Described:
        """The number, creation time and status of a raw record, as its source says.

        Without a `describe` from the source, the record is normalized on its own (no
        look-ups) and the canonical object's fields are read.
        """
        if self.describe is not None:
            return self.describe(data)
        value = self.normalize(data, record="", resolve=_nothing).value
        return Described(
            number=str(getattr(value, "number", "") or ""),
            created=getattr(value, "created", None),
            status=str(getattr(value, "status", "") or ""),
        )

    # How long a record may be held for what it waits for before it becomes a failed row.
    hold_timeout: timedelta = timedelta(days=3)
    # Links a record of this type brings (a payment's handle, when a later record says
    # which invoice it paid): the records whose entries carry one of them are run again
    # in the same batch, so a link that arrives after its payment still posts its effect.
    revisits: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = field(default_factory=dict)
    # Change control (engine/mapping_change.py): which version runs and why, and the
    # approval rules that hold risky records for a person (engine/approvals.py).
    mapping_state: FlowMapping | None = None
    approvals: tuple[ApprovalRule, ...] = ()
    # The flow's part of a two-way pair (engine/twoway.py), when it has one.
    twoway: TwoWaySync | None = None
    # Queue a customer-success notice when a deal written here upgrades its plan.
    notify_upgrades: bool = False
    # GDPR erasure (engine/erase.py): whose personal data a raw record carries, and the
    # record with it replaced; records of erased subjects are redacted on the way in.
    subjects: Callable[[Mapping[str, Any]], list[str]] | None = None
    redact: Callable[[Mapping[str, Any], frozenset[str]], Mapping[str, Any]] | None = None


@dataclass(slots=True, kw_only=True)
class RunResult:
    run: int
    flow: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    posted: int = 0  # journal entries written to the target in this run
    recovered: int = 0  # writes found in the target whose commit had been lost
    dry_run_entries: list[str] = field(default_factory=list)
    dry_run_problems: list[dict[str, str]] = field(default_factory=list)  # why records would fail
    stopped: str = ""  # why the run stopped early (a fatal error), if it did
    figures: SourceFigures | None = None  # what reading cost, when the source counts it
    dry_run: bool = False  # a preview: nothing was written, and the run took no number

    @property
    def failed(self) -> bool:
        return bool(self.counts["failed"]) or bool(self.stopped)

    @property
    def needs_person(self) -> bool:
        """The run left a record only a person can move on: failed, a conflict, or stopped."""
        return self.failed or bool(self.counts["conflict"])

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"run": self.run, "flow": self.flow, "counts": dict(self.counts)}
        if self.dry_run:
            data["dry_run"] = True
        data["posted"] = self.posted
        if self.recovered:
            data["recovered"] = self.recovered
        if self.stopped:
            data["stopped"] = self.stopped
        if self.figures is not None:
            data["rate_limit"] = rate_limit_json(self.figures)
        if self.dry_run_entries:
            data["entries"] = self.dry_run_entries
        if self.dry_run_problems:
            data["problems"] = self.dry_run_problems
        return data


def rate_limit_json(figures: SourceFigures) -> dict[str, Any]:
    """A run's rate-limit figures as the run summary shows them."""
    return {
        "waits": figures.rate_limit_waits,
        "wait_seconds": round(figures.rate_limit_wait_seconds, 3),
        "throttled": figures.throttled,
        "requests": figures.requests,
    }
