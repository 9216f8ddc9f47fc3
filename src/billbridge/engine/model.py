"""The engine's own values: what a flow needs at run time, and what a run reports.

Why a `FlowRuntime` bundle: the engine never imports a concrete connector; the CLI
(or the service) builds the source, the target and the normalizer from the workspace
and hands them over here, so the same engine runs any pair of systems.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from billbridge.change_config import ApprovalRule
from billbridge.connectors.base import SourceConnector, SourceFigures, TargetConnector
from billbridge.domain import Problem
from billbridge.mapping.model import Mapping as MappingFile
from billbridge.mapping.rules import Canonical

from .mapping_change import FlowMapping
from .retry import RetryPolicy

__all__ = [
    "OUTCOMES",
    "FlowRuntime",
    "Normalize",
    "NormalizedLike",
    "Resolve",
    "RunResult",
    "rate_limit_json",
]

OUTCOMES = ("synced", "unchanged", "failed", "held", "conflict")


class Resolve(Protocol):
    def __call__(self, object: str, id: str, /) -> Mapping[str, Any] | None: ...


class NormalizedLike(Protocol):
    @property
    def value(self) -> Canonical | None: ...
    @property
    def problems(self) -> tuple[Problem, ...]: ...
    @property
    def waiting_on(self) -> tuple[str, str] | None: ...
    @property
    def reason(self) -> str: ...


Normalize = Callable[..., NormalizedLike]  # (data, *, record: str, resolve: Resolve)


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
    # fetched for a whole batch in one query (see formats/stripe/_lookups.py).
    lookups: Mapping[str, Callable[[Mapping[str, Any]], list[str]]] = field(default_factory=dict)
    # Change control (engine/mapping_change.py): which version runs and why, and the
    # approval rules that hold risky records for a person (engine/approvals.py).
    mapping_state: FlowMapping | None = None
    approvals: tuple[ApprovalRule, ...] = ()


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

    @property
    def failed(self) -> bool:
        return bool(self.counts["failed"]) or bool(self.stopped)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"run": self.run, "flow": self.flow, "counts": dict(self.counts)}
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
