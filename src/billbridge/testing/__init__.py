"""The conformance suites every connector gets for free (the singer-sdk way), and a
target that fails on purpose.

- `TargetConformance`: a ledger target's promises for exactly-once posting.
- `SourceConformance`: a source model's promises (connectors/source.py): its normalizer
  never raises, names the field of every defect, and files records under the keys the
  engine relates them by.
- `RecordTargetConformance`: a system that keeps records (connectors/records.py): found
  by our key alone, created, updated and read back as asked.
- `FaultyTarget`: wraps any ledger target and fails in each way a real sink fails
  (fatal, retryable, commit-then-timeout, partial write, a refused record), so a test
  proves that every fault ends posted, queued or refused out loud.

Each is a plain class to use from a test module; none imports pytest, so connectors
outside this repository can use them.
"""

from __future__ import annotations

from ._faults import FAULT_KINDS, Fault, FaultKind, FaultyTarget, SimulatedCrash
from ._records import RecordTargetConformance
from ._source import SourceConformance
from ._target import TargetConformance, sample_entry

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultKind",
    "FaultyTarget",
    "RecordTargetConformance",
    "SimulatedCrash",
    "SourceConformance",
    "TargetConformance",
    "sample_entry",
]
