"""Approvals for risky records: a hold only a person releases, and their decision.

Why a hook of its own in the check step: the pipeline asks one question per record
(`Approvals.check`) and gets a verdict back (hold, reject, or go), so the rules in
billbridge.yaml (`approvals:`, see change_config.py) stay out of the record path's code.
A held record is an open `held` queue row with field `approval` and no `waiting_on`:
nothing releases it automatically (the release after a parent posts only looks at
rows waiting on a record). Once held it stays held, through syncs and replays, until an
approver decides for that version of the record (engine/approval_decisions.py):

- approved: the record goes on through the same path (posts, or meets its conflict);
- rejected: it fails, and its queue row carries the reason.

A new version of the record from the source needs a new decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import orjson

from billbridge.change_config import ApprovalRule
from billbridge.domain import CreditNote, Invoice, Money, Payment, Payout, Refund
from billbridge.mapping.rules import Canonical, Planned
from billbridge.store.base import ExceptionRow, RecordRow, SyncState

from .model import FlowRuntime

__all__ = ["APPROVAL_FIELD", "Approvals", "Verdict", "held_rule"]

APPROVAL_FIELD = "approval"
_PREFIX = "awaiting approval: "
_OBJECTS: dict[type, str] = {
    Invoice: "invoice", CreditNote: "credit_note", Payment: "payment", Refund: "refund",
    Payout: "payout",
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    kind: Literal["hold", "reject"]
    rule: str
    message: str
    hint: str


def _amount(value: Canonical) -> Money | None:
    if isinstance(value, Invoice | CreditNote):
        return value.total
    if isinstance(value, Refund | Payout):
        return value.amount
    if isinstance(value, Payment):
        return value.gross
    return None


def _day(value: Invoice | CreditNote | Payment | Refund | Payout) -> date:
    return value.created.date()


def held_rule(row: ExceptionRow) -> str | None:
    """The rule an open queue row awaits approval for (None: not an approval hold)."""
    if row.status != "open" or row.kind != "held" or row.field != APPROVAL_FIELD:
        return None
    return row.error.removeprefix(_PREFIX).split(" ", 1)[0] if row.error.startswith(_PREFIX) \
        else None  # fmt: skip


class Approvals:
    """The approval step of one pipeline (one run); a no-op without rules."""

    def __init__(
        self,
        *,
        flow: FlowRuntime,
        store: SyncState,
        resolve: Callable[[str, str], Any],
    ) -> None:
        self.flow = flow
        self.store = store
        self.rules = flow.approvals
        self._resolve = resolve  # the pipeline's look-up of related records
        self._held: dict[str, tuple[str, str]] | None = None  # key -> (version, rule)

    def _holds(self) -> dict[str, tuple[str, str]]:
        if self._held is None:
            self._held = {}
            for row in self.store.open_exceptions(flow=self.flow.name):
                rule = held_rule(row)
                if rule is not None:
                    self._held[row.record_key] = (row.version, rule)
        return self._held

    def check(
        self,
        key: str,
        version: str,
        value: Canonical,
        entries: Sequence[Planned],
        *,
        prior: RecordRow | None,
        posted: Callable[[str], dict[str, str]],
    ) -> Verdict | None:
        """Hold, reject, or None (go on) for a record about to be written."""
        if not self.rules:
            return None
        new = [p for p in entries if p.facet not in posted(key)]
        found = self._matching(key, version, value, entries, new, prior=prior, posted=posted)
        if found is None:
            held = self._holds().get(key)
            if held is None or held[0] != version:
                return None
            found = (held[1], "held earlier; a decision releases it")
        rule, why = found
        decision = next(
            (d for d in reversed(self.store.record_decisions(self.flow.name, key))
             if d.version == version),
            None,
        )  # fmt: skip
        if decision is not None and decision.decision == "approved":
            return None
        if decision is not None:
            return Verdict(
                kind="reject", rule=rule,
                message=f"rejected by {decision.actor} (approval rule {rule}): {decision.reason}",
                hint="correct the record in the source (its new version is held for approval "
                "again), or dismiss this row with a reason",
            )  # fmt: skip
        return Verdict(
            kind="hold", rule=rule, message=f"{_PREFIX}{rule} ({why})",
            hint=f"an approver runs `billbridge approve {key}` (or `billbridge reject {key} "
            "--reason …`); never released automatically",
        )  # fmt: skip

    def _matching(
        self,
        key: str,
        version: str,
        value: Canonical,
        entries: Sequence[Planned],
        new: Sequence[Planned],
        *,
        prior: RecordRow | None,
        posted: Callable[[str], dict[str, str]],
    ) -> tuple[str, str] | None:
        kind = _OBJECTS.get(type(value))
        for rule in self.rules:
            if kind is None or (rule.object is not None and rule.object != kind):
                continue
            why = self._why(rule, key, version, value, entries, new, prior, posted)
            if why is not None:
                return rule.name, why
        return None

    def _why(
        self,
        rule: ApprovalRule,
        key: str,
        version: str,
        value: Canonical,
        entries: Sequence[Planned],
        new: Sequence[Planned],
        prior: RecordRow | None,
        posted: Callable[[str], dict[str, str]],
    ) -> str | None:
        """Why `rule` holds this record (every condition written must hold), or None."""
        reasons: list[str] = []
        if rule.total_changed_after_posting:
            changed = self._total_change(key, version, value, prior, posted)
            if changed is None:
                return None
            reasons.append(changed)
        elif not new:
            return None  # nothing left to post: nothing to approve
        if rule.entity is not None:
            entities = {p.entry.entity for p in entries}
            if rule.entity not in entities:
                return None
            reasons.append(f"entity {rule.entity}")
        if rule.threshold is not None:
            over = self._over(rule, value)
            if over is None:
                return None
            reasons.append(over)
        return "; ".join(reasons)

    def _over(self, rule: ApprovalRule, value: Canonical) -> str | None:
        threshold = rule.threshold
        money = _amount(value)
        if threshold is None or money is None:
            return None
        if not isinstance(value, Invoice | CreditNote | Payment | Refund | Payout):
            return None  # customers, deals and deletions carry no amount to approve
        limit, currency = threshold
        shown = f"{money.amount} {money.currency}"
        if money.currency == currency:
            return f"{shown} is over {rule.over}" if money.amount > limit else None
        if not rule.any_currency:
            return None
        rate = self.flow.mapping.rate_table.rate(_day(value), money.currency, currency)
        if rate is None:
            return (f"{shown}: no {money.currency}/{currency} rate in the mapping to compare "
                    f"with {rule.over}, so held to be safe")  # fmt: skip
        converted = (money.amount * rate).quantize(Decimal("0.01"))
        if converted <= limit:
            return None
        return (
            f"{shown} (≈ {converted} {currency} at the mapping's rate {rate}) is over {rule.over}"
        )

    def _total_change(
        self,
        key: str,
        version: str,
        value: Canonical,
        prior: RecordRow | None,
        posted: Callable[[str], dict[str, str]],
    ) -> str | None:
        if not isinstance(value, Invoice) or prior is None or prior.version == version:
            return None
        if "issue" not in posted(key):
            return None
        before = self.flow.normalize(orjson.loads(prior.snapshot), record=key,
                                     resolve=self._resolve).value  # fmt: skip
        if not isinstance(before, Invoice) or before.total == value.total:
            return None
        return f"total changed after posting: {before.total} -> {value.total}"
