"""Deciding on records an approval rule holds: approve (it posts) or reject (it fails).

Why apart from the hook (engine/approvals.py): a decision re-runs the record through
the pipeline (`reprocess`), which itself holds the hook. The CLI (`billbridge approve`,
`reject`), the API and the web UI all call `decide`, so the same checks refuse them:
the role (`billbridge.roles`), a reason for a rejection, and four-eyes: the author of
the record's last change in billbridge (the person who last synced, replayed or retried
it; the worker is no person) cannot approve it, when identities are proven.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from billbridge.identity import Identity, person_of
from billbridge.roles import refusal
from billbridge.store import RecordDecisionRow
from billbridge.store.base import Audit, AuditEvent, ExceptionRow, SyncState

from .approvals import held_rule
from .model import FlowRuntime, RunResult
from .run import reprocess

__all__ = ["ApprovalRefusedError", "awaiting_approval", "decide", "last_change_author"]


class DecisionState(SyncState, Audit, Protocol):
    """Approving reads the queue and the audit log, and records the decision."""


_NOT_PEOPLE = frozenset({"system", "worker", "webhook", "stripe-webhook", "demo", "setup"})
_NOT_CHANGES = frozenset({"previewed", "warning", "approved", "rejected", "dismissed"})


class ApprovalRefusedError(Exception):
    """`approve`/`reject` refused, with the sentence to show; `kind` maps to HTTP."""

    def __init__(self, message: str, *, kind: Literal["forbidden", "not-found", "conflict"]):
        super().__init__(message)
        self.kind = kind


def awaiting_approval(store: DecisionState, *, flow: str | None = None) -> list[ExceptionRow]:
    """Open queue rows held by an approval rule."""
    return [r for r in store.open_exceptions(flow=flow) if held_rule(r) is not None]


def last_change_author(store: DecisionState, key: str) -> str:
    """The person who last changed the record through billbridge ("" if only machines did)."""
    for row in reversed(store.audit_rows(record_key=key)):
        if row.action in _NOT_CHANGES:
            continue
        person = person_of(row.actor)
        if person not in _NOT_PEOPLE:
            return person
    return ""


def decide(
    store: DecisionState,
    flows: Callable[[str], FlowRuntime],
    key: str,
    *,
    who: Identity,
    approve: bool,
    reason: str = "",
) -> tuple[RecordDecisionRow, RunResult]:
    """Approve (the record goes on and posts) or reject (it fails with `reason`)."""
    what: Literal["approve", "reject"] = "approve" if approve else "reject"
    refused = refusal(who.name, who.role, what)
    if refused is not None:
        raise ApprovalRefusedError(refused, kind="forbidden")
    row = next((r for r in store.exceptions_for(key) if held_rule(r) is not None), None)
    if row is None:
        raise ApprovalRefusedError(
            f"{key} is not awaiting approval (`billbridge queue` lists held records)",
            kind="not-found",
        )
    reason = reason.strip()
    if not approve and not reason:
        raise ApprovalRefusedError("say why the record is rejected (--reason)", kind="conflict")
    author = last_change_author(store, key)
    if who.proven and author and author == who.name:
        raise ApprovalRefusedError(
            f"{who.name} made the last change to {key}; another approver must decide on it",
            kind="forbidden",
        )
    rule = held_rule(row) or ""
    decision: Literal["approved", "rejected"] = "approved" if approve else "rejected"
    kept = store.decide_record(
        RecordDecisionRow(
            flow=row.flow, record_key=key, version=row.version, rule=rule, decision=decision,
            reason=reason, actor=who.actor,
        ),
        audit=AuditEvent(
            actor=who.actor, action=decision, record_key=key,
            diff={"rule": [None, rule], "version": [None, row.version],
                  "reason": [None, reason or None]},
        ),
    )  # fmt: skip
    result = reprocess(flows(row.flow), store, [key], actor=who.actor, kind="replay")
    return kept, result
