"""The conformance suites every connector gets for free (the singer-sdk way).

- `TargetConformance`: a ledger target's promises for exactly-once posting.
- `SourceConformance`: a source model's promises (connectors/source.py): its normalizer
  never raises, names the field of every defect, and files records under the keys the
  engine relates them by.
- `RecordTargetConformance`: a system that keeps records (connectors/records.py): found
  by our key alone, created, updated and read back as asked.

Each is a plain class to subclass in a test module; none imports pytest, so connectors
outside this repository can use them.
"""

from __future__ import annotations

from ._records import RecordTargetConformance
from ._source import SourceConformance
from ._target import TargetConformance, sample_entry

__all__ = ["RecordTargetConformance", "SourceConformance", "TargetConformance", "sample_entry"]
