"""The sample generator's running state: clock, id counters, balances, deferred events.

Its own module because every part of the generator (customers and invoices in
`_invoices`, money in `_money`, the stream in `_generator`) shares this one state and
its four small helpers; the parts are mixins over this base so each reads `self.rng`,
`self.clock` and `self._id()` exactly as before, typed once here for mypy.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from typing import Any

from ._tables import START, Api, Customer, Ids, random_id

__all__ = ["GenState"]


class GenState:
    """One run's state; `InvoiceMixin` and `MoneyMixin` add the objects they build."""

    def __init__(self, invoices: int, seed: int, api: Api, faults: bool, ids: Ids) -> None:
        self.n = invoices
        # Random ids draw from their own generator: the data does not change with them.
        self.ids = random.Random(f"ids-{seed}") if ids == "random" else None
        self.rng = random.Random(seed)
        self.current = api == "current"
        self.faults = faults
        self.clock = START
        self.later: list[tuple[int, int, dict[str, Any]]] = []
        self.seq = 0
        self.invoice_number = 0
        self.balance: dict[str, int] = {}
        self.charges_since_payout: dict[str, int] = {}
        self.customers: list[Customer] = []

    # ---------------------------------------------------------------- helpers
    def _id(self, prefix: str) -> str:
        self.seq += 1
        if self.ids is not None:
            return f"{prefix}_{random_id(self.ids)}"
        return f"{prefix}_{self.seq:010d}"

    def _number(self) -> int:
        self.invoice_number += 1
        return self.invoice_number

    def _defer(self, when: int, obj: dict[str, Any]) -> None:
        self.seq += 1
        heapq.heappush(self.later, (when, self.seq, obj))

    def _due(self, until: int) -> Iterator[dict[str, Any]]:
        while self.later and self.later[0][0] <= until:
            obj = heapq.heappop(self.later)[2]
            if obj["object"] == "balance_transaction":
                cur = obj["currency"]
                self.balance[cur] = self.balance.get(cur, 0) + obj["net"]
            yield obj
