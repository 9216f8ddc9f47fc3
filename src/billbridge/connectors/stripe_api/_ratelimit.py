"""A client-side rate limiter per connection: a token bucket, plus the waits it caused.

Why client-side: Stripe answers 429 above its limit (25 req/s in test mode, 100 live),
and every 429 is a wasted round trip that also counts against the limit. Pacing
requests below the limit keeps 429s rare; the waits are counted so the run summary and
the progress bar can say that the run was slowed down on purpose, not stuck.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RateLimiter", "WaitStats"]


@dataclass(slots=True)
class WaitStats:
    """What pacing, 429s and retried errors cost: counts and seconds slept.

    Rate-limit waits are the paced waits plus the backoffs after a 429; the backoffs
    before retrying a 5xx or a network error (`error_*`) are not about the rate limit.
    """

    requests: int = 0
    throttled: int = 0  # 429 answers
    paced_waits: int = 0
    paced_seconds: float = 0.0
    backoff_waits: int = 0  # after a 429
    backoff_seconds: float = 0.0
    error_waits: int = 0  # after a 5xx or a network error
    error_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def rate_limit_waits(self) -> int:
        return self.paced_waits + self.backoff_waits

    @property
    def rate_limit_seconds(self) -> float:
        return self.paced_seconds + self.backoff_seconds

    def as_dict(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "paced_waits": self.paced_waits,
            "paced_seconds": round(self.paced_seconds, 3),
            "backoff_waits": self.backoff_waits,
            "backoff_seconds": round(self.backoff_seconds, 3),
            "error_waits": self.error_waits,
            "error_seconds": round(self.error_seconds, 3),
        }


class RateLimiter:
    """At most `rate` requests in any one-second window, paced by a token bucket.

    Two rules, because each alone breaks the promise. The token bucket (`burst` tokens,
    refilled at `rate` a second) spreads requests out, but a full bucket plus a second
    of refill lets `burst + rate` through in the first second (30 at 25/s): above the
    limit Stripe enforces. So every grant is also checked against a sliding window: the
    request `n` grants back must be at least `window` seconds old, with `window` one
    second (longer for a rate under 1/s) and `n` the whole requests a window allows.
    Grants are given out in time order, so the window is a queue of the last `n` times.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 5)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()
        self.window = max(1.0, 1.0 / rate)
        self._granted: deque[float] = deque(maxlen=max(1, math.floor(rate * self.window)))
        self.stats = WaitStats()

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1
            at = now + (-self._tokens / self.rate if self._tokens < 0 else 0.0)
            granted = self._granted
            if granted:
                at = max(at, granted[-1])
                if len(granted) == granted.maxlen:
                    at = max(at, granted[0] + self.window)
            granted.append(at)
            wait = at - now
            self.stats.requests += 1
            if wait > 0:
                self.stats.paced_waits += 1
                self.stats.paced_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def error_backoff(self, seconds: float) -> None:
        """Sleep before retrying a 5xx or a network error (counted apart from 429s)."""
        with self._lock:
            self.stats.error_waits += 1
            self.stats.error_seconds += seconds
        self._sleep(seconds)

    def backoff(self, seconds: float) -> None:
        """Sleep after a 429 and drain the bucket, so the next requests are paced too."""
        with self._lock:
            self.stats.throttled += 1
            self.stats.backoff_waits += 1
            self.stats.backoff_seconds += seconds
            self._tokens = min(self._tokens, 0.0)
            self._last = self._clock() + seconds
        self._sleep(seconds)
