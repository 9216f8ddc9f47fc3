"""Named points where a test can kill the process with SIGKILL, to prove crash safety.

Why in the product: "a crash anywhere leaves either nothing or a committed outcome" is
only believable if a real process is really killed at the worst moments (right after
a ledger write, right after the fsync, right after the commit) and the next run is
checked. Killing at a random time cannot hit those moments reliably. The points do
nothing unless BILLBRIDGE_CRASH_AT is set, e.g. `after-write:37` (the 37th write).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

__all__ = ["crashpoint"]

_SPEC = os.environ.get("BILLBRIDGE_CRASH_AT", "")
_NAME, _, _COUNT = _SPEC.partition(":")
_AT = int(_COUNT) if _COUNT.isdigit() else 1
_seen: Counter[str] = Counter()


def crashpoint(name: str) -> None:
    """Kill this process with SIGKILL when `name` is reached for the configured time."""
    if not _NAME or name != _NAME:
        return
    _seen[name] += 1
    if _seen[name] == _AT:
        os.kill(os.getpid(), signal.SIGKILL)
