"""Control totals: does a target hold exactly what the source says, each record once?

Why read the target itself: a zero trial balance proves nothing about duplicates, and
the state store only says what billbridge believes it wrote. This check reads every
posting back from the ledger (through the target's own reader), then:
- the trial balance: per currency, all postings sum to zero, each leg at its weight (its
  cost or price, as the ledger itself balances it: a converted `119.00 USD @@ 107.10 EUR`
  counts 107.10 EUR);
- per object type and currency, the source's figures (the invoice total, the charge
  amount, …) against each record's primary entry in the target, read in the transaction
  currency as written (the larger of its debits and credits there: a charge settled in
  another currency credits the receivable and debits cash in the settlement currency),
  with every difference listed record by record. A target that keeps only the converted
  amounts (GnuCash, the SQL GL in functional-currency books) holds no transaction-currency
  figure to compare: such entries are counted as `converted`, not as differences;
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

# (entry id, idempotency key, record key, account, currency, amount); keys "" when not ours.
# The amount is the leg's weight; a target that converts adds (units currency, units).
LedgerLine = (
    tuple[str, str, str, str, str, Decimal] | tuple[str, str, str, str, str, Decimal, str, Decimal]
)
# (facet, or the facets one of which is the primary entry; currency; amount) of a record.
ControlAmount = Callable[
    [str, Mapping[str, Any]], "tuple[str | tuple[str, ...], str, Decimal] | None"
]
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
    # (object, currency) -> records whose entry the target holds only converted
    converted: dict[tuple[str, str], int] = field(default_factory=dict)

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
            "converted": [
                {"object": o, "currency": c, "records": n}
                for (o, c), n in sorted(self.converted.items())
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
    primary: Mapping[str, frozenset[str]] | None = None,
) -> BooksReport:
    """Compare what the target holds with the source records and the store's postings.

    `primary`: per object type, the accounts whose legs carry the source's figure (an
    invoice's total is its receivable leg, whatever discounts, taxes or exchange
    differences sit beside it). Without it, the larger of the entry's debits and
    credits in the source currency is compared.
    """
    report = BooksReport(flow=flow, target=target)
    entries_by_key: dict[str, set[str]] = defaultdict(set)
    # (idem, transaction currency) -> [debits, credits] of the entry's legs as written
    sides: dict[tuple[str, str], list[Decimal]] = {}
    # (idem, transaction currency) -> account -> sum, on the accounts that carry figures
    on_accounts: dict[tuple[str, str], dict[str, Decimal]] = {}
    carrying = frozenset().union(*primary.values()) if primary else frozenset()
    record_of: dict[str, str] = {}
    entry_ids: set[str] = set()
    for line in lines:
        entry_id, idem, record, account, currency, amount = line[:6]
        written = line[6:8] if len(line) > 6 else (currency, amount)
        entry_ids.add(entry_id)
        report.balances[account, currency] = report.balances.get((account, currency), 0) + amount
        report.trial_balance[currency] = report.trial_balance.get(currency, Decimal(0)) + amount
        if idem:
            entries_by_key[idem].add(entry_id)
            record_of[idem] = record
            units_currency, units = str(written[0]), Decimal(written[1])
            side = sides.setdefault((idem, units_currency), [Decimal(0), Decimal(0)])
            if units > 0:
                side[0] += units
            else:
                side[1] -= units
            if account in carrying:
                on = on_accounts.setdefault((idem, units_currency), {})
                on[account] = on.get(account, Decimal(0)) + units
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

    # idempotency key -> (record key, target ref): the two fields read of each posting
    stored = {
        p.idempotency_key: (p.record_key, p.target_ref) for p in store.iter_postings(flow=flow)
    }
    for idem in sorted(set(stored) - set(entries_by_key)):
        report.differences.append(
            Difference(
                record=stored[idem][0],
                kind="missing",
                detail=f"the store recorded {idem} as posted ({stored[idem][1]}), "
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
    legs = _Legs(sides=sides, on_accounts=on_accounts, held=set(entries_by_key))
    _compare_totals(report, flow, stored, legs, store, control, primary or {})
    return report


@dataclass(frozen=True, slots=True)
class _Legs:
    """What the ledger's entries hold, by idempotency key and transaction currency."""

    sides: Mapping[tuple[str, str], list[Decimal]]  # [debits, credits]
    on_accounts: Mapping[tuple[str, str], Mapping[str, Decimal]]
    held: set[str]  # idempotency keys with any leg at all


def _compare_totals(
    report: BooksReport,
    flow: str,
    stored: Mapping[str, tuple[str, str]],
    legs: _Legs,
    store: Records,
    control: ControlAmount,
    primary: Mapping[str, frozenset[str]],
) -> None:
    records = sorted({record for record, _ref in stored.values()})
    for start in range(0, len(records), _CHUNK):
        rows = store.get_records(records[start : start + _CHUNK])
        for key in records[start : start + _CHUNK]:
            row = rows.get(key)
            if row is None:
                continue
            expected = control(row.object, orjson.loads(row.snapshot))
            if expected is None:
                continue
            facets, currency, amount = expected
            found = [
                (facet, f"{flow}|{key}|{facet}")
                for facet in ((facets,) if isinstance(facets, str) else facets)
                if f"{flow}|{key}|{facet}" in stored
            ]
            if not found:
                continue  # this record's primary effect was never posted (e.g. a draft)
            facet, idem = found[0]
            side = legs.sides.get((idem, currency))
            if side is None and idem in legs.held:
                # every leg converted, and the target keeps only the converted amounts
                counted = report.converted.get((row.object, currency), 0)
                report.converted[row.object, currency] = counted + 1
                continue
            accounts = primary.get(row.object)
            if accounts:
                on = legs.on_accounts.get((idem, currency), {})
                posted = abs(sum((v for a, v in on.items() if a in accounts), Decimal(0)))
            else:
                posted = max(side) if side is not None else Decimal(0)
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
                        f"moves {posted:f} {currency}",
                        currency=currency,
                        source=amount,
                        posted=posted,
                    )
                )
