"""Flows and the settings around them in billbridge.yaml: retries, schedules, holds, workers, audit.

Why strict: a typo in a configuration that silently falls back to a default is how an
integration posts to the wrong account for a month. Every model here refuses unknown
keys, and durations are checked when the file is read, not when a worker first needs one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DEFAULT_HOLD_TIMEOUT",
    "AuditConfig",
    "FlowConfig",
    "RetryConfig",
    "Strict",
    "WorkerConfig",
]

DEFAULT_HOLD_TIMEOUT = "3d"


class Strict(BaseModel):
    """A frozen model that refuses unknown keys and takes fields by name or by alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RetryConfig(Strict):
    """How a retryable failure (locked file, unavailable target) is retried before queueing."""

    attempts: int = Field(default=3, ge=0, le=20)
    base_seconds: float = Field(default=0.2, ge=0)
    max_seconds: float = Field(default=30.0, ge=0)


class FlowConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    mapping: Path
    retry: RetryConfig = RetryConfig()
    # How often `billbridge worker` runs an incremental sync of this flow ("30s", "15m",
    # "1h"); absent: the worker only drains the flow's webhook inbox and never polls.
    every: str | None = None
    # How long a held record may wait for what it waits for (its invoice, its charge)
    # before the hold becomes a failed queue row saying what never came ("3d", "12h").
    hold_timeout: str = DEFAULT_HOLD_TIMEOUT
    # `monthly`: the worker posts deferred revenue recognition (`billbridge recognize`)
    # through the end of each month once it is over; absent: only the command does.
    recognize: Literal["monthly"] | None = None

    @field_validator("every")
    @classmethod
    def _every_is_a_duration(cls, value: str | None) -> str | None:
        return None if value is None else _duration(value)

    @field_validator("hold_timeout")
    @classmethod
    def _hold_timeout_is_a_duration(cls, value: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]*[smhd]", value):
            raise ValueError(
                f"{value!r} is not a duration: write a number and s, m, h or d (3d, 12h)"
            )
        return value

    @property
    def every_seconds(self) -> int | None:
        return None if self.every is None else _seconds(self.every)

    @property
    def hold_timeout_seconds(self) -> int:
        return _seconds(self.hold_timeout)


def _duration(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[smh]", value):
        raise ValueError(f"{value!r} is not a duration: write a number and s, m or h (15m)")
    return value


def _seconds(duration: str) -> int:
    """A validated duration ("15m", "3d") in seconds."""
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[duration[-1]]


class WorkerConfig(Strict):
    """`worker:` — how PostgreSQL workers watch each other (procrastinate heartbeats).

    A worker beats every quarter of `stalled_after`; one silent for longer is taken for
    dead (killed, its machine gone), and the job it was running is run again by another
    worker: a flow is taken over within about `stalled_after` and a half.
    """

    stalled_after: str = "60s"

    @field_validator("stalled_after")
    @classmethod
    def _a_duration(cls, value: str) -> str:
        return _duration(value)

    @property
    def stalled_seconds(self) -> int:
        return _seconds(self.stalled_after)


class AuditConfig(Strict):
    """`audit:` — where the audit chain's anchors (its head, witnessed outside the state
    store) are appended; relative to the workspace. Put them on other storage than the
    state (another disk, an append-only mount) so one mishap cannot take both."""

    anchors: Path = Path(".billbridge/audit-anchors")
