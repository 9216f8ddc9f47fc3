"""Store methods for GDPR erasure: per-subject salts, the suppression list, the rewrite.

Why here: erasure touches every table that may hold a person's data as text (record
snapshots, queue texts, posting summaries, the webhook inbox, write-back requests, field
bases, conflicts, notifications, alert and reconcile details), and must do it in one
transaction with its audit row. The engine (engine/erase.py) decides what to replace;
`apply_erasure` finds every occurrence and replaces it. The audit log is never touched:
it holds no personal data (values appear there only as hashes salted per subject, and
erasure deletes the salt). `compact` then makes the old bytes unreadable on disk.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .rows import AuditEvent, RecordRow

__all__ = ["ErasurePlan", "PrivacyMixin", "needle_forms"]


@dataclass(slots=True, kw_only=True)
class ErasurePlan:
    """What one erasure changes.

    `records`: (key, new snapshot, new version, old version) of each redacted record;
    `replace`: (personal text, stand-in) replaced wherever billbridge keeps text;
    `subjects`: (subject key, connection) added to the suppression list;
    `salts`: subjects whose salts are deleted;
    `statements`: (named query, parameters) run first (links archived, bases deleted);
    `inbox`: (event id, flow, new payload); `writebacks`: (row id, new request).
    """

    records: list[tuple[str, bytes, str, str]] = field(default_factory=list)
    replace: list[tuple[str, str]] = field(default_factory=list)
    subjects: list[tuple[str, str]] = field(default_factory=list)
    salts: list[str] = field(default_factory=list)
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    inbox: list[tuple[str, str, bytes]] = field(default_factory=list)
    writebacks: list[tuple[int, bytes]] = field(default_factory=list)


def needle_forms(text: str) -> list[str]:
    """The forms `text` takes inside stored JSON: as is, and \\u-escaped when not ASCII."""
    forms = [text]
    escaped = json.dumps(text)[1:-1]
    if escaped != text:
        forms.append(escaped)
    return forms


def _swap(value: Any, needles: Sequence[tuple[str, str]]) -> Any:
    if value is None:
        return None
    if isinstance(value, bytes | memoryview):
        out = bytes(value)
        for old, new in needles:
            out = out.replace(old.encode(), new.encode())
        return out
    text = str(value)
    for old, new in needles:
        text = text.replace(old, new)
    return text


# (select query, update query, number of needle parameters, key columns, text columns)
_TABLES: tuple[tuple[str, str, int, int], ...] = (
    ("texts_outcomes", "scrub_outcome", 1, 1),
    ("texts_exceptions", "scrub_exception", 3, 1),
    ("texts_postings", "scrub_posting", 1, 1),
    ("texts_inbox", "scrub_inbox", 1, 2),
    ("texts_writebacks", "scrub_writeback", 2, 1),
    ("texts_bases", "scrub_base", 1, 3),
    ("texts_conflicts", "scrub_conflict", 3, 1),
    ("texts_notifications", "scrub_notification", 1, 1),
    ("texts_incidents", "scrub_incident", 1, 1),
    ("texts_discrepancies", "scrub_discrepancy", 1, 1),
)
_BLOBS = frozenset({"texts_inbox", "texts_writebacks"})


class PrivacyMixin:
    if TYPE_CHECKING:
        _q: dict[str, str]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Any]: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _ts(self, at: datetime) -> Any: ...
        def _record(self, row: Any) -> RecordRow: ...
        def _prepare_audit(self, events: Sequence[AuditEvent], now: datetime) -> list[Any]: ...
        def _append(self, tx: Any, events: list[Any]) -> list[tuple[Any, ...]]: ...
        def _secure_delete(self) -> None: ...
        def _params(self, params: Sequence[Any]) -> tuple[Any, ...]: ...

    def subject_salt(self, subject: str) -> str:
        """The salt of a data subject's hashed values, made on first use."""
        with self._guard("read subject salt"):
            rows = self._all("salt_get", (subject,))
        if rows:
            return str(rows[0][0])
        with self._guard("store subject salt"), self._write() as tx:
            tx.execute(
                self._q["salt_put"], (subject, secrets.token_hex(16), self._ts(datetime.now(UTC)))
            )
            found = tx.execute(self._q["salt_get"], (subject,)).fetchall()
        return str(found[0][0])

    def erased_subjects(self) -> dict[str, str]:
        """Subject key -> connection, for every subject erased so far (the suppression list)."""
        with self._guard("read erased subjects"):
            return {str(s): str(c) for s, c in self._all("erased_all")}

    def records_of_connection(self, connection: str) -> Iterator[RecordRow]:
        with self._guard("read records"):
            rows = self._all("records_of_connection", (connection,))
        return (self._record(r) for r in rows)

    def inbox_of_connection(self, connection: str) -> list[tuple[str, str, bytes]]:
        """(event id, flow, payload) of every stored webhook event of a connection."""
        with self._guard("read webhook inbox"):
            rows = self._all("inbox_of_connection", (connection,))
        return [(str(e), str(f), bytes(p)) for e, f, p in rows]

    def apply_erasure(self, plan: ErasurePlan, audit: AuditEvent) -> dict[str, int]:
        """Rewrite every stored occurrence in one transaction; returns rows changed per table."""
        now = datetime.now(UTC)
        counts: dict[str, int] = {}
        needles = [(form, new) for old, new in plan.replace for form in needle_forms(old)]
        events = self._prepare_audit([audit], now)
        self._secure_delete()
        with self._guard("erase personal data"), self._write(lock=True) as tx:
            for name, values in plan.statements:
                tx.execute(self._q[name], self._params(values))
            for event_id, flow, payload in plan.inbox:
                tx.execute(self._q["scrub_inbox"], (payload, event_id, flow))
            for row_id, request in plan.writebacks:
                tx.execute(self._q["scrub_writeback"], (request, "", row_id))
            for key, snapshot, version, old in plan.records:
                tx.execute(self._q["erase_record"], (snapshot, version, key))
                tx.execute(self._q["erase_flow_version"], (version, key, old))
            counts["records"] = len(plan.records)
            for select, update, params, keys in _TABLES:
                changed: dict[tuple[Any, ...], tuple[Any, ...]] = {}
                for needle, _ in needles:
                    probe: Any = needle.encode() if select in _BLOBS else needle
                    for row in tx.execute(self._q[select], (probe,) * params).fetchall():
                        where = tuple(row[:keys])
                        changed[where] = tuple(_swap(t, needles) for t in row[keys:])
                for where, texts in changed.items():
                    tx.execute(self._q[update], (*texts, *where))
                counts[select.removeprefix("texts_")] = len(changed)
            for subject, connection in plan.subjects:
                tx.execute(self._q["erased_add"], (subject, connection, self._ts(now), audit.actor))
            for subject in plan.salts:
                tx.execute(self._q["salt_delete"], (subject,))
            self._append(tx, events)
        return counts
