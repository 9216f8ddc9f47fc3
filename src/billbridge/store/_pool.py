"""Open stores kept for reuse by a long-running process (`billbridge serve`).

Why: each served request used to open its own store, and on PostgreSQL the connection
alone (a backend forked per connection) costs about 10 ms, more than most requests. A
store goes back to the pool only when its connection is idle (no transaction left
open, not broken); anything else is closed, so a request never inherits another's state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from .base import Store

__all__ = ["StorePool"]


class _Reusable(Protocol):
    def reusable(self) -> bool: ...


class StorePool:
    def __init__(self, opener: Callable[[], Store], *, size: int = 8) -> None:
        self._opener = opener
        self._size = size
        self._idle: list[Store] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def borrow(self) -> Iterator[Store]:
        with self._lock:
            store = self._idle.pop() if self._idle else None
        if store is None:
            store = self._opener()
        try:
            yield store
        finally:
            self._give_back(store)

    def _give_back(self, store: Store) -> None:
        check: Callable[[], bool] | None = getattr(store, "reusable", None)
        with self._lock:
            if not self._closed and check is not None and len(self._idle) < self._size:
                try:
                    keep = check()
                except Exception:  # a broken connection is closed, never kept
                    keep = False
                if keep:
                    self._idle.append(store)
                    return
        store.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for store in idle:
            store.close()
