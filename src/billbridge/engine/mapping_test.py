"""`billbridge mapping test`: a draft re-planned against the promoted version, on recorded data.

Why on stored snapshots and never through the pipeline: the question before a change
reaches production is "which entries would come out differently?", and the answer must
cost nothing to get: no target is opened, no record, queue row or cursor is written. The
only write is the test's summary, which `promote` requires and shows.

Each record the flow has seen (newest first, `--records N` or `--since DATE`) is
normalized once and planned under both mappings; what differs is reported record by
record, entry (facet) by entry, account by account with the amount before and after,
plus the records that newly fail or newly post, and the totals per account and
currency over every record tested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import orjson

from billbridge.domain import Invoice, Severity
from billbridge.mapping.model import Mapping
from billbridge.mapping.rules import Canonical, Context, RulePlan, plan_entries
from billbridge.store.base import Mappings, RecordRow, Records

from .model import Normalize

__all__ = ["LineChange", "RecordChange", "ReplanReport", "SnapshotPlanner", "replan"]


class TestState(Records, Mappings, Protocol):
    """A mapping test reads the flow's stored snapshots and the records they look up."""


Lookups = AbcMapping[str, Callable[[AbcMapping[str, Any]], list[str]]]
Lines = dict[tuple[str, str], Decimal]  # (account, currency) -> signed amount
_KEPT = 500  # changed records kept in the stored summary (counts cover them all)


@dataclass(frozen=True, slots=True, kw_only=True)
class LineChange:
    facet: str
    account: str
    currency: str
    before: Decimal | None  # None: no such line before
    after: Decimal | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "facet": self.facet, "account": self.account, "currency": self.currency,
            "before": None if self.before is None else str(self.before),
            "after": None if self.after is None else str(self.after),
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordChange:
    record: str
    kind: Literal["changed", "newly failing", "newly posting"]
    lines: tuple[LineChange, ...] = ()
    dates: tuple[tuple[str, str, str], ...] = ()  # (facet, before, after)
    error_before: str = ""
    error_after: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "record": self.record, "kind": self.kind,
            "lines": [line.as_json() for line in self.lines],
            "dates": [{"facet": f, "before": b, "after": a} for f, b, a in self.dates],
            "error_before": self.error_before or None, "error_after": self.error_after or None,
        }  # fmt: skip


@dataclass(slots=True, kw_only=True)
class ReplanReport:
    flow: str
    draft: str
    base: str
    records: int = 0
    unchanged: int = 0
    changes: list[RecordChange] = field(default_factory=list)
    totals_before: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    totals_after: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def totals(self) -> list[dict[str, str | bool]]:
        """Per account and currency, the sum of every tested record's lines, before/after."""
        keys = sorted(self.totals_before.keys() | self.totals_after.keys())
        return [self._total(key) for key in keys]

    def _total(self, key: tuple[str, str]) -> dict[str, str | bool]:
        before = self.totals_before.get(key, Decimal(0))
        after = self.totals_after.get(key, Decimal(0))
        return {"account": key[0], "currency": key[1], "before": str(before),
                "after": str(after), "changed": before != after}  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow, "draft": self.draft, "base": self.base,
            "records": self.records, "unchanged": self.unchanged,
            "changed": self.count("changed"), "newly_failing": self.count("newly failing"),
            "newly_posting": self.count("newly posting"),
            "changes": [c.as_json() for c in self.changes[:_KEPT]],
            "totals": self.totals(),
        }  # fmt: skip


class SnapshotPlanner:
    """Normalizes each stored record once (with look-ups into the store) and plans it."""

    def __init__(
        self, store: TestState, *, flow: str, connection: str, normalize: Normalize
    ) -> None:
        self.store = store
        self.flow = flow
        self.connection = connection
        self.normalize = normalize
        self._seen: dict[str, AbcMapping[str, Any] | None] = {}
        self._invoices: dict[str, Invoice | None] = {}

    def remember(self, rows: Iterable[RecordRow]) -> None:
        for row in rows:
            self._seen[row.key] = orjson.loads(row.snapshot)

    def resolve(self, obj: str, ident: str) -> AbcMapping[str, Any] | None:
        key = f"{self.connection}:{obj}:{ident}"
        if key not in self._seen:
            row = self.store.get_record(key)
            self._seen[key] = None if row is None else orjson.loads(row.snapshot)
        return self._seen[key]

    def invoice(self, ident: str) -> Invoice | None:
        if ident not in self._invoices:
            data = self.resolve("invoice", ident)
            key = f"{self.connection}:invoice:{ident}"
            value = None if data is None else self.normalize(
                data, record=key, resolve=self.resolve
            ).value  # fmt: skip
            self._invoices[ident] = value if isinstance(value, Invoice) else None
        return self._invoices[ident]

    def number(self, ident: str) -> str:
        found = self.invoice(ident)  # the canonical invoice: the engine reads no source field
        return found.number if found is not None else ""

    def value(self, row: RecordRow) -> Canonical | None:
        """The record as the rules see it; None when it fails, waits or posts nothing
        whatever the mapping says (its queue row, if any, says why)."""
        data = self._seen.get(row.key)
        if data is None:
            return None
        normalized = self.normalize(data, record=row.key, resolve=self.resolve)
        if normalized.value is None or normalized.waiting_on is not None:
            return None
        if any(p.severity is Severity.ERROR for p in normalized.problems):
            return None
        return normalized.value

    def context(self, row: RecordRow) -> Context:
        return Context(
            flow=self.flow, connection=self.connection, record=row.key, version=row.version,
            invoice_number=self.number, invoice=self.invoice,
        )  # fmt: skip

    def plans(self, row: RecordRow, mappings: Iterable[Mapping]) -> list[RulePlan] | None:
        """The plan of `row` under each mapping; None when the mapping plays no part."""
        value = self.value(row)
        if value is None:
            return None
        ctx = self.context(row)
        return [plan_entries(value, mapping, ctx) for mapping in mappings]


def _errors(plan: RulePlan) -> str:
    return "; ".join(p.message for p in plan.problems if p.severity is Severity.ERROR)


def _lines(plan: RulePlan) -> dict[str, tuple[date, Lines]]:
    found: dict[str, tuple[date, Lines]] = {}
    for item in plan.entries:
        lines: Lines = {}
        for posting in item.entry.postings:
            key = (posting.account, posting.amount.currency)
            lines[key] = lines.get(key, Decimal(0)) + posting.amount.amount
        found[item.facet] = (item.entry.date, lines)
    return found


def _add(totals: dict[tuple[str, str], Decimal], planned: dict[str, tuple[date, Lines]]) -> None:
    for _day, lines in planned.values():
        for key, amount in lines.items():
            totals[key] = totals.get(key, Decimal(0)) + amount


def _compare(record: str, before: RulePlan, after: RulePlan) -> RecordChange | None:
    was, now = _errors(before), _errors(after)
    if was and now:
        return None  # fails either way (its queue row says why)
    if was or now:
        return RecordChange(
            record=record, kind="newly failing" if now else "newly posting",
            lines=_line_changes({}, _lines(after)) if was else _line_changes(_lines(before), {}),
            error_before=was, error_after=now,
        )  # fmt: skip
    old, new = _lines(before), _lines(after)
    lines = _line_changes(old, new)
    dates = tuple(
        (facet, old[facet][0].isoformat(), new[facet][0].isoformat())
        for facet in sorted(old.keys() & new.keys())
        if old[facet][0] != new[facet][0]
    )
    if not lines and not dates:
        return None
    return RecordChange(record=record, kind="changed", lines=lines, dates=dates)


def _line_changes(
    old: dict[str, tuple[date, Lines]], new: dict[str, tuple[date, Lines]]
) -> tuple[LineChange, ...]:
    changes = []
    for facet in sorted(old.keys() | new.keys()):
        before = old[facet][1] if facet in old else {}
        after = new[facet][1] if facet in new else {}
        for account, currency in sorted(before.keys() | after.keys()):
            a, b = before.get((account, currency)), after.get((account, currency))
            if a != b:
                changes.append(LineChange(facet=facet, account=account, currency=currency,
                                          before=a, after=b))  # fmt: skip
    return tuple(changes)


def replan(
    store: TestState,
    *,
    flow: str,
    connection: str,
    normalize: Normalize,
    base: Mapping,
    draft: Mapping,
    limit: int | None = None,
    since: datetime | None = None,
) -> ReplanReport:
    """Plan the flow's stored records under `base` and `draft`; report what differs."""
    report = ReplanReport(flow=flow, draft=draft.version, base=base.version)
    rows = store.flow_snapshots(flow, limit=limit, since=since)
    planner = SnapshotPlanner(store, flow=flow, connection=connection, normalize=normalize)
    planner.remember(rows)
    for row in rows:
        plans = planner.plans(row, (base, draft))
        report.records += 1
        if plans is None:
            report.unchanged += 1
            continue
        before, after = plans
        if not _errors(before):
            _add(report.totals_before, _lines(before))
        if not _errors(after):
            _add(report.totals_after, _lines(after))
        change = _compare(row.key, before, after)
        if change is None:
            report.unchanged += 1
        else:
            report.changes.append(change)
    return report
