"""Causes: what a group of queue rows has in common, fixed once and replayed together.

Why: one unmapped tax rate that hits fifty invoices is one problem, not fifty rows. A
cause is a problem code (the field the rule refused: `tax_rates`, `currency`, `total`,
…) plus, where the message names it, the one missing thing (the rate `txr_at_vat20`,
the currency `'eurx'`, the product `prod_x`). Rows are grouped from what the queue
already stores (kind, field, message, the record a held row waits on), so the grouping
is a pure function of the rows and works for every row ever queued.

A held record that waits on a record which is itself in the queue belongs to that
record's cause, as *waiting*: it is released by itself once its parent posts, so it
adds nothing to fix. The cause's `records` are the rows a person has to act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from billbridge.domain import RecordWords, format_amount, plural
from billbridge.store.base import ExceptionRow, Queue

from .words import RecordNamer

__all__ = [
    "Cause",
    "cause_of",
    "group_causes",
    "needs_person",
    "open_causes",
    "parent_causes",
]

_QUOTED: Final = re.compile(r"'([^']*)'")
_PAIR: Final = re.compile(r"\b([A-Z]{3}/[A-Z]{3})\b")
_REPLAY_ONE: Final = re.compile(r"`billbridge replay [^`]+`")
_PLAIN: Final = re.compile(r"[^a-z0-9_.\-]+")

# field → (problem code, take the first quoted name in the message as the missing thing)
_CODES: Final[Mapping[str, tuple[str, bool]]] = {
    "tax_rates": ("tax-rate", True),
    "accounts.revenue": ("product", True),
    "currency": ("currency", True),
    "status": ("status", True),
    "entities": ("entity", False),
    "number": ("invoice-number", False),
    "line": ("unreadable-line", False),
    "target": ("target", False),
    "postings": ("entry-changed", False),
}
# What a person does for a cause of this code: fixed in the mapping once (all its records
# go with one replay), or record by record in the source system; used by the estimate.
MAPPING_FIXES: Final = frozenset({"tax-rate", "product", "account", "fx-rate", "entity"})


@dataclass(slots=True, kw_only=True)
class Cause:
    """One cause: its rows (what a person acts on) and the held rows that wait on them."""

    cause: str  # e.g. "tax-rate:txr_at_vat20", "currency:eurx", "total"
    code: str  # the problem code: "tax-rate", "currency", "total", "waiting", …
    kind: str  # failed, held or conflict (of its first row)
    problem: str
    fix: str
    rows: list[ExceptionRow] = field(default_factory=list)
    waiting: list[ExceptionRow] = field(default_factory=list)
    words: dict[str, RecordWords] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def oldest(self) -> datetime | None:
        seen = [r.first_seen for r in (*self.rows, *self.waiting) if r.first_seen is not None]
        return min(seen) if seen else None

    @property
    def flows(self) -> list[str]:
        return sorted({r.flow for r in self.rows})

    def amounts(self) -> dict[str, Decimal]:
        """The money this cause holds back, per currency (its records, not the waiting)."""
        sums: dict[str, Decimal] = {}
        for row in self.rows:
            words = self.words.get(row.record_key)
            if words is not None and words.amount is not None:
                cur = words.amount.currency
                sums[cur] = sums.get(cur, Decimal(0)) + words.amount.amount
        return dict(sorted(sums.items()))

    def amounts_text(self) -> str:
        return ", ".join(format_amount(v, k) for k, v in self.amounts().items())

    def summary(self) -> str:
        """`50 records (59,500.00 EUR)`, plus the held ones that wait on them."""
        text = plural(self.count, "record")
        money = self.amounts_text()
        if money:
            text += f" ({money})"
        if self.waiting:
            text += f"; {plural(len(self.waiting), 'more record waits', 'more records wait')}"
            text += " on them"
        return text

    def _record_json(self, row: ExceptionRow) -> dict[str, Any]:
        words = self.words.get(row.record_key)
        return {
            "id": row.id,
            "record": row.record_key,
            "flow": row.flow,
            "kind": row.kind,
            "words": words.text() if words is not None else "",
        }

    def as_json(self) -> dict[str, Any]:
        oldest = self.oldest
        return {
            "cause": self.cause,
            "problem": self.problem,
            "count": self.count,
            "records": [self._record_json(r) for r in self.rows],
            "amounts": {k: str(v) for k, v in self.amounts().items()},
            "fix": self.fix,
            "oldest": oldest.isoformat() if oldest else None,
            "kind": self.kind,
            "flows": self.flows,
            "waiting": [self._record_json(r) for r in self.waiting],
        }


def needs_person(row: ExceptionRow) -> bool:
    """A row nobody but a person can close: a conflict, or a failure billbridge will not
    retry by itself (a permanent one, or a retryable one out of tries)."""
    if row.kind == "conflict":
        return True
    return row.kind == "failed" and not (row.retryable and row.next_try_at is not None)


def _slug(text: str) -> str:
    return _PLAIN.sub("-", text.lower()).strip("-") or "record"


def cause_of(row: ExceptionRow) -> tuple[str, str]:
    """(cause, code) of one row on its own (a held row: what it waits for)."""
    if row.kind == "held":
        if row.waiting_on:
            obj = row.waiting_on.split(":")[1] if row.waiting_on.count(":") >= 2 else "record"
            return f"waiting:{obj}", "waiting"
        return f"held:{_slug(row.field)}", "held"
    if row.flow.startswith("writeback:"):
        return f"{_slug(row.flow)}", "writeback"
    field = row.field
    if row.kind == "conflict" and field != "postings":
        return f"conflict:{_slug(field)}", "conflict"
    code, named = _CODES.get(field, ("", False))
    if not code and field.startswith("accounts."):
        return f"account:{field}", "account"
    if field == "fx.rates":
        pair = _PAIR.search(row.error)
        return f"fx-rate:{pair.group(1) if pair else 'missing'}", "fx-rate"
    if not code:
        code = _slug(field) if field else "unreadable-record"
    if named:
        found = _QUOTED.search(row.error)
        if found:
            return f"{code}:{found.group(1)}", code
        if code == "product":
            return f"{code}:(none)", code
        if "missing" in row.error:
            return f"{code}:missing", code
    return code, code


def parent_causes(rows: Sequence[ExceptionRow]) -> dict[str, str]:
    """record key → the cause of its row, with a held row following what it waits on to
    the row that blocks it (so a payment waiting on a failed invoice shares its cause)."""
    by_key: dict[str, ExceptionRow] = {}
    for row in rows:
        by_key.setdefault(row.record_key, row)
    found: dict[str, str] = {}
    for key, row in by_key.items():
        seen = {key}
        current = row
        while current.kind == "held" and current.waiting_on in by_key:
            if current.waiting_on in seen:
                break  # a loop of holds: each keeps its own cause
            seen.add(current.waiting_on)
            current = by_key[current.waiting_on]
        found[key] = cause_of(current)[0]
    return found


_PROBLEMS: Final[Mapping[str, str]] = {
    "total": "the record's own amounts do not add up (lines, tax and total)",
    "tax": "the invoice's taxes do not add up, or it charges tax it must not",
    "net": "a payment's fee plus net is not its gross",
    "invoice-number": "an invoice number is used twice in one series",
    "unreadable-line": "lines of the export file could not be read",
    "entry-changed": "an entry already posted differs from what the current mapping gives",
    "waiting": "records wait for a record billbridge has not read yet",
}


def _problem(code: str, rows: Sequence[ExceptionRow]) -> str:
    errors = {r.error for r in rows}
    if len(errors) == 1:
        return rows[0].error
    return _PROBLEMS.get(code) or f"{rows[0].error} (and {len(rows) - 1} alike)"


def _fix(cause: str, code: str, rows: Sequence[ExceptionRow]) -> str:
    hint = rows[0].hint
    if code == "writeback":
        return hint
    command = f"`billbridge replay --cause {cause}`"
    if code == "waiting":
        return f"released by itself when it arrives; to look again now, {command}"
    if code == "unreadable-line":
        return (
            "fix the lines in the export file (or remove them), then `billbridge retry --all` "
            "reads them again; or `billbridge queue dismiss ID --reason …`"
        )
    if _REPLAY_ONE.search(hint):
        return _REPLAY_ONE.sub(command, hint)
    return f"{hint} — then {command}" if hint else command


def group_causes(
    rows: Iterable[ExceptionRow], words: Mapping[str, RecordWords] | None = None
) -> list[Cause]:
    """The open rows as causes, the biggest first (then the oldest)."""
    rows = list(rows)
    owners = parent_causes(rows)
    own: dict[str, tuple[str, str]] = {r.record_key: cause_of(r) for r in rows}
    causes: dict[str, Cause] = {}
    for row in rows:
        name = owners[row.record_key]
        mine, code = own[row.record_key]
        cause = causes.get(name)
        if cause is None:
            cause = causes[name] = Cause(
                cause=name, code=code, kind=row.kind, problem="", fix="", words=dict(words or {})
            )
        if name != mine:  # held on a record of this cause: released when it posts
            cause.waiting.append(row)
        else:
            cause.rows.append(row)
    result = []
    for cause in causes.values():
        if not cause.rows:  # only waiting rows (their parent's row is filtered out)
            cause.rows, cause.waiting = cause.waiting, []
        cause.code = own[cause.rows[0].record_key][1]
        cause.kind = cause.rows[0].kind
        cause.problem = _problem(cause.code, cause.rows)
        cause.fix = _fix(cause.cause, cause.code, cause.rows)
        result.append(cause)
    result.sort(key=lambda c: (-c.count, c.oldest.timestamp() if c.oldest else 0.0, c.cause))
    return result


def open_causes(
    store: Queue, namer: RecordNamer | None = None, *, flow: str | None = None
) -> list[Cause]:
    """The open queue as causes; with a namer, each record's words (and so the amounts)."""
    rows = store.open_exceptions(flow=flow)
    words = namer.words(r.record_key for r in rows) if namer is not None else None
    return group_causes(rows, words)
