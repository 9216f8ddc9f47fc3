"""Control totals: does a target hold exactly what the source says, each record once?

Why read the target itself: a zero trial balance proves nothing about duplicates, and
the state store only says what billbridge believes it wrote. This check reads every
posting back from the ledger (through the target's own reader), then:
- the trial balance: per currency, all postings sum to zero;
- per object type and currency, the source's figures (the invoice total, the charge
  amount, …) against the debits of each record's primary entry in the target, with every
  difference listed record by record;
- one posting per source record: each idempotency key occurs in exactly one target
  entry; every posting the store recorded is in the target, and every billbridge entry
  in the target is one the store recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from billbridge.store.base import Records

__all__ = ["BooksReport", "ControlAmount", "Difference", "LedgerLine", "check_books"]

# (entry id, idempotency key, record key, account, currency, amount); keys "" when not ours
LedgerLine = tuple[str, str, str, str, str, Decimal]
ControlAmount = Callable[[str, Mapping[str, Any]], "tuple[str, str, Decimal] | None"]
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Difference:
    """One record (or key) where source and target disagree, in words a person can act on."""

    record: str
    kind: str  # amount, missing, duplicate, unknown
    detail: str
    currency: str = ""
    source: Decimal | None = None
    posted: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "kind": self.kind,
            "detail": self.detail,
            "currency": self.currency,
            "source": None if self.source is None else f"{self.source:f}",
            "posted": None if self.posted is None else f"{self.posted:f}",
        }


@dataclass(slots=True)
class BooksReport:
    flow: str
    target: str
    trial_balance: dict[str, Decimal] = field(default_factory=dict)
    balances: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    totals: dict[tuple[str, str], tuple[Decimal, Decimal]] = field(default_factory=dict)
    entries: int = 0
    keys: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not any(self.trial_balance.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "target": self.target,
            "ok": self.ok,
            "trial_balance": {c: f"{v:f}" for c, v in sorted(self.trial_balance.items())},
            "balances": [
                {"account": a, "currency": c, "balance": f"{v:f}"}
                for (a, c), v in sorted(self.balances.items())
            ],
            "totals": [
                {"object": o, "currency": c, "source": f"{s:f}", "posted": f"{p:f}"}
                for (o, c), (s, p) in sorted(self.totals.items())
            ],
            "entries": self.entries,
            "keys": self.keys,
            "differences": [d.as_json() for d in self.differences],
        }


def check_books(
    *,
    flow: str,
    target: str,
    lines: Iterable[LedgerLine],
    store: Records,
    control: ControlAmount,
) -> BooksReport:
    """Compare what the target holds with the source records and the store's postings."""
    report = BooksReport(flow=flow, target=target)
    entries_by_key: dict[str, set[str]] = defaultdict(set)
    debits: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (idem, currency)
    record_of: dict[str, str] = {}
    entry_ids: set[str] = set()
    for entry_id, idem, record, account, currency, amount in lines:
        entry_ids.add(entry_id)
        report.balances[account, currency] = report.balances.get((account, currency), 0) + amount
        report.trial_balance[currency] = report.trial_balance.get(currency, Decimal(0)) + amount
        if idem:
            entries_by_key[idem].add(entry_id)
            record_of[idem] = record
            if amount > 0:
                debits[idem, currency] += amount
    report.entries = len(entry_ids)
    report.keys = len(entries_by_key)
    for currency, total in sorted(report.trial_balance.items()):
        if total:
            report.differences.append(
                Difference(
                    record="",
                    kind="trial-balance",
                    detail=f"{currency} postings sum to {total:f}, not zero",
                    currency=currency,
                    posted=total,
                )
            )
    for idem, ids in sorted(entries_by_key.items()):
        if len(ids) > 1:
            report.differences.append(
                Difference(
                    record=record_of[idem],
                    kind="duplicate",
                    detail=f"{idem} is posted {len(ids)} times in the target",
                )
            )

    stored = {p.idempotency_key: p for p in store.iter_postings(flow=flow)}
    for idem in sorted(set(stored) - set(entries_by_key)):
        report.differences.append(
            Difference(
                record=stored[idem].record_key,
                kind="missing",
                detail=f"the store recorded {idem} as posted ({stored[idem].target_ref}), "
                "but the target does not hold it",
            )
        )
    prefix = f"{flow}|"
    for idem in sorted(k for k in entries_by_key if k.startswith(prefix) and k not in stored):
        report.differences.append(
            Difference(
                record=record_of[idem],
                kind="unknown",
                detail=f"the target holds {idem}, which the store has no posting for",
            )
        )
    _compare_totals(report, flow, stored, debits, store, control)
    return report


def _compare_totals(
    report: BooksReport,
    flow: str,
    stored: Mapping[str, Any],
    debits: Mapping[tuple[str, str], Decimal],
    store: Records,
    control: ControlAmount,
) -> None:
    records = sorted({p.record_key for p in stored.values()})
    for start in range(0, len(records), _CHUNK):
        rows = store.get_records(records[start : start + _CHUNK])
        for key in records[start : start + _CHUNK]:
            row = rows.get(key)
            if row is None:
                continue
            expected = control(row.object, orjson.loads(row.snapshot))
            if expected is None:
                continue
            facet, currency, amount = expected
            idem = f"{flow}|{key}|{facet}"
            if idem not in stored:
                continue  # this record's primary effect was never posted (e.g. a draft)
            posted = debits.get((idem, currency), Decimal(0))
            source_sum, posted_sum = report.totals.get((row.object, currency), (0, 0))
            report.totals[row.object, currency] = (
                Decimal(source_sum) + amount,
                Decimal(posted_sum) + posted,
            )
            if posted != amount:
                report.differences.append(
                    Difference(
                        record=key,
                        kind="amount",
                        detail=f"source says {amount:f} {currency}, the {facet!r} entry "
                        f"debits {posted:f} {currency}",
                        currency=currency,
                        source=amount,
                        posted=posted,
                    )
                )
