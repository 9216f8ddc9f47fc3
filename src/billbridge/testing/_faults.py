"""`FaultyTarget`: any real target, made to fail at a chosen write the way real sinks fail.

Why in the product's testing kit and not in one test: "every failure ends posted, queued,
or refused out loud" is a promise about the engine and every target together, and it is
only believable when a real target (the Beancount file, the GnuCash book, the SQL ledger,
an export folder, a third party's plugin) fails at the worst moment and the next clean
run is compared with a run that never failed. The wrapper injects the failure; everything
else goes to the real target, so what lands is what the real target would hold.

The faults, by what a real sink does:

- `fatal`: write N raises `FatalError` before anything lands (bad credentials, a dropped
  table, a book another program replaced): the run stops.
- `retryable`: write N raises `RetryableError` before anything lands, and so does every
  retry of the same entries until `times` calls have failed (a locked file, a 503).
- `commit-then-timeout`: write N lands, then `RetryableError` (the answer was lost after
  the database committed): a retry must find it, not post it twice.
- `partial-write`: write N lands in part and the process dies (`SimulatedCrash`): a file
  target's last write is cut in half (`torn_file` names the file), a database's open
  transaction is lost with the connection.
- `refuse`: write N's entries are refused with `RecordError` (a constraint or trigger on
  one row), every time they are written through this wrapper.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from billbridge.connectors.base import (
    FatalError,
    RecordError,
    Recovered,
    RetryableError,
    TargetConnector,
    Written,
)
from billbridge.domain import JournalEntry

__all__ = ["FAULT_KINDS", "Fault", "FaultKind", "FaultyTarget", "SimulatedCrash"]

FaultKind = Literal["fatal", "retryable", "commit-then-timeout", "partial-write", "refuse"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)


class SimulatedCrash(BaseException):
    """The process died in the middle of a write: nothing after this point runs.

    A `BaseException`, like `KeyboardInterrupt`, so no `except Exception` of the engine
    turns it into an outcome: the test that catches it must drop the target and the store
    without flushing or committing, as a killed process would.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """`kind` injected at the `write`-th call of `write` (1 is the first)."""

    kind: FaultKind
    write: int
    times: int = 1  # `retryable`: how many calls with these entries fail in all

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.write < 1 or self.times < 1:
            raise ValueError("`write` and `times` count from 1")


class FaultyTarget:
    """Wraps `real`; every call goes through to it except the injected failures.

    `injected` lists what was injected, in order, with the idempotency keys of the write
    it hit, so a test can say which records must end up queued. Attributes the wrapper
    does not define (`entries_path`, `ledger_postings`, …) are the real target's.
    """

    # A failed write may have landed here (`commit-then-timeout`), whatever the real
    # target promises: the engine must look each one up before it writes it again.
    all_or_nothing = False

    def __init__(
        self,
        real: TargetConnector,
        *faults: Fault,
        torn_file: Callable[[], Path | None] | None = None,
    ) -> None:
        self.real = real
        self.name = real.name
        self.faults = {fault.write: fault for fault in faults}
        if len(self.faults) != len(faults):
            raise ValueError("two faults at one write")
        self.torn_file = torn_file
        self.calls = 0
        self.injected: list[tuple[FaultKind, tuple[str, ...]]] = []
        self._refused: set[tuple[str, ...]] = set()
        self._failing: dict[tuple[str, ...], int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    # -- the TargetConnector protocol ----------------------------------------------------

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        self.calls += 1
        keys = tuple(entry.key for entry in entries)
        if keys in self._refused:
            raise RecordError(f"{self.name}: a constraint refuses {keys[0]} (injected)")
        left = self._failing.get(keys, 0)
        if left:
            self._failing[keys] = left - 1
            raise RetryableError(f"{self.name}: the target is busy (injected, retried)")
        fault = self.faults.get(self.calls)
        if fault is None:
            return self.real.write(entries)
        self.injected.append((fault.kind, keys))
        at = f"(injected at write {self.calls})"
        if fault.kind == "fatal":
            raise FatalError(f"{self.name}: the target cannot be written any more {at}")
        if fault.kind == "retryable":
            self._failing[keys] = fault.times - 1
            raise RetryableError(f"{self.name}: the target is busy {at}")
        if fault.kind == "refuse":
            self._refused.add(keys)
            raise RecordError(f"{self.name}: a constraint refuses {keys[0]} {at}")
        if fault.kind == "commit-then-timeout":
            self.real.write(entries)
            raise RetryableError(f"{self.name}: no answer after the write was sent {at}")
        self._write_part(entries)
        raise SimulatedCrash(f"{self.name}: the process died during write {self.calls}")

    def _write_part(self, entries: Sequence[JournalEntry]) -> None:
        """The write lands; then the file it grew is cut back to half of what it added."""
        path = self.torn_file() if self.torn_file is not None else None
        before = path.stat().st_size if path is not None and path.exists() else 0
        self.real.write(entries)
        if path is not None:
            after = path.stat().st_size
            if after > before:
                os.truncate(path, before + (after - before) // 2)

    def flush(self) -> int:
        return self.real.flush()

    def recover(self, committed_position: int) -> Mapping[str, Recovered | str]:
        return self.real.recover(committed_position)

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        return self.real.find(idempotency_keys)

    def render(self, entries: Sequence[JournalEntry]) -> str:
        return self.real.render(entries)

    def close(self) -> None:
        self.real.close()
