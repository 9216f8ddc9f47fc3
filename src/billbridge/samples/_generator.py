"""The sample generator's stream: objects in created order, with the deliberate faults.

Its own module because the order of the stream (customers, then each invoice with its
money, deferred events when they fall due, faults at fixed points) is the one place
that knows how the parts in `_invoices` and `_money` combine; the parts do not know of
each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ._invoices import InvoiceMixin
from ._money import MoneyMixin
from ._tables import DAY, FAULT_IDS, spread_by_weight

__all__ = ["SampleGenerator"]


class SampleGenerator(InvoiceMixin, MoneyMixin):
    """One generation run: `run()` yields every object once, in created order."""

    def _fault(self, k: int, t: int) -> Iterator[dict[str, Any]]:
        cust = self.customers[k % len(self.customers)]
        if k == 0:
            inv = self._invoice("in_fault_bad_currency", cust, t, status="open")
            inv["currency"] = "eurx"
            yield inv
        elif k == 1:
            inv = self._invoice("in_fault_total_mismatch", cust, t, status="open")
            inv["total"] += 1
            inv["amount_due"] += 1
            inv["amount_remaining"] += 1
            yield inv
        elif k == 2:
            inv = self._invoice("in_fault_unmapped_tax", cust, t, status="open", rate=cust.rates[0])
            for line in inv["lines"]["data"]:
                if self.current:
                    line["taxes"][0]["tax_rate_details"]["tax_rate"] = "txr_unmapped_xx"
                else:
                    line["tax_amounts"] = [
                        {"amount": 0, "inclusive": False, "tax_rate": "txr_unmapped_xx"}
                    ]
            if self.current:
                inv["total_taxes"][0]["tax_rate_details"] = {"tax_rate": "txr_unmapped_xx"}
            else:
                spread = spread_by_weight(inv["tax"], [li["amount"] for li in inv["lines"]["data"]])
                for line, share in zip(inv["lines"]["data"], spread, strict=True):
                    line["tax_amounts"][0]["amount"] = share
                inv["tax_percent"] = None
            yield inv
        else:
            inv = self._invoice("in_fault_early", cust, t, status="paid")
            yield from self._charge(
                inv, t, ("ch_fault_early", "txn_fault_early", "pi_fault_early", "inpay_fault_early")
            )
            self._defer(t + 120, inv)

    # ---------------------------------------------------------------- the stream
    def run(self) -> Iterator[dict[str, Any]]:
        yield from self._customers()
        fault_at: dict[int, list[int]] = {}
        if self.faults:
            for k in range(len(FAULT_IDS)):
                fault_at.setdefault(min(self.n * (k + 1) // 5, max(0, self.n - 1)), []).append(k)
        rng = self.rng
        for i in range(self.n):
            self.clock += rng.randint(30, 900)
            t = self.clock
            yield from self._due(t)
            cust = self.customers[rng.randrange(len(self.customers))]
            roll = rng.random()
            inv_id = self._id("in")
            if roll < 0.01:
                yield self._invoice(inv_id, cust, t, status="void")
            else:
                inv = self._invoice(inv_id, cust, t, status="paid")
                yield inv
                yield from self._due(t + 60)
                money = self._charge(inv, t + 60)
                yield from money
                charge = money[-1]
                if roll < 0.06:
                    share = Decimal(rng.randint(10, 50)) / 100
                    part = int((Decimal(inv["total"]) * share).to_integral_value(ROUND_HALF_UP))
                    if part > 0:
                        self._refund(charge, part, t + rng.randint(3600, 3 * DAY))
                elif roll < 0.08 and self.current:
                    self._credit_note(inv, charge, t + rng.randint(DAY, 5 * DAY))
                yield from self._due(t + 61)
                yield from self._payout(inv["currency"], t + 60)
                self.clock = t + 61
            for k in fault_at.get(i, ()):
                self.clock += 1
                yield from self._due(self.clock)
                yield from self._fault(k, self.clock)
        if self.n == 0:
            for k in fault_at.get(0, ()):
                self.clock += 1
                yield from self._fault(k, self.clock)
        yield from self._due(2**62)
