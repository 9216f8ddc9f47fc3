"""Recording what a target holds that the state store does not: after a crash, or on adopt.

Why one module for both: after a crash the next run records the writes found past the
committed position (`run.recover_target`); when the target and the store truly disagree
(a ledger file restored from an older backup, edited before the committed position), a
person decides to adopt the target as it is now, and the same recording runs over the
whole target. Either way each found entry is stored with the hash of what it does to
the books, so a source record that changes later is a conflict, never a silent match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from billbridge.connectors.base import PositionMismatchError, Recovered
from billbridge.store.base import AuditEvent, Batch, CursorRow, PostingRow, SyncState

from .entries import recovered_hash
from .model import FlowRuntime

__all__ = ["Adopted", "adopt_target", "recorded_batch", "target_cursor", "way_out"]


def target_cursor(flow: FlowRuntime) -> str:
    """The name of the cursor that holds a target's committed position."""
    return f"target:{flow.target.name}"


def way_out(flow: FlowRuntime, exc: PositionMismatchError) -> PositionMismatchError:
    """The target's own message, and what a person can do about it."""
    return PositionMismatchError(
        f"{exc}; the state store and the target {flow.target.name!r} disagree about what "
        "was posted, so flow "
        f"{flow.name!r} stops rather than post twice or lose a posting. Either restore the "
        "target as billbridge last left it (from a backup), or accept it as it is now with "
        f'`billbridge books adopt {flow.name} --reason "…"` (audited), then run '
        f"`billbridge reconcile {flow.name}` to see what differs"
    )


def recorded_batch(
    flow: FlowRuntime,
    found: Mapping[str, Recovered | str],
    *,
    known: Callable[[str], bool],
    actor: str,
    run_id: int | None,
    summary: str,
    action: str,
) -> Batch:
    """Posting rows (with their hashes) and audit rows for the found keys not `known`."""
    now = datetime.now(UTC)
    batch = Batch()
    for idem, what in found.items():
        if known(idem):
            continue
        flow_name, record, facet = [*idem.split("|"), "", ""][:3]
        # The entry's hash, from what the target holds: conflict detection stays on for a
        # record that changes afterwards (a target that gives only a ref leaves it "").
        if isinstance(what, Recovered):
            ref, version, digest = what.ref, what.version, recovered_hash(what)
        else:
            ref, version, digest = what, "", ""
        batch.postings.append(
            PostingRow(
                flow=flow_name,
                record_key=record,
                facet=facet,
                idempotency_key=idem,
                version=version,
                entry_hash=digest,
                target=flow.target.name,
                target_ref=ref,
                run_id=run_id or 0,
                posted_at=now,
                summary=summary,
            )
        )
        batch.audit.append(
            AuditEvent(
                actor=actor,
                action=action,
                record_key=record,
                run_id=run_id,
                at=now,
                diff={"posting": [None, idem], "target_ref": [None, ref]},
            )
        )
    return batch


@dataclass(frozen=True, slots=True, kw_only=True)
class Adopted:
    """What adopting a target did: the positions before and after, the postings recorded."""

    flow: str
    target: str
    position_before: int | None
    position_after: int
    recorded: int
    held: int  # billbridge entries the target holds in all

    def as_json(self) -> dict[str, object]:
        return {
            "flow": self.flow,
            "target": self.target,
            "position_before": self.position_before,
            "position_after": self.position_after,
            "recorded": self.recorded,
            "entries_in_target": self.held,
        }


def adopt_target(flow: FlowRuntime, store: SyncState, *, actor: str, reason: str) -> Adopted:
    """Accept the target as it is now: read it whole, record what the store lacks, and
    commit its current end as the position, with an audit row that says who and why.

    Nothing is posted or removed: what the store recorded and the target no longer holds
    (or the reverse) is for `reconcile` to report and a person to settle.
    """
    if not reason.strip():
        raise ValueError("adopting a target needs a reason (it is kept in the audit log)")
    cursor = store.get_cursor("*", target_cursor(flow))
    found = flow.target.recover(0)
    posted = {p.idempotency_key for p in store.iter_postings(flow=flow.name)}
    batch = recorded_batch(
        flow,
        found,
        known=lambda idem: idem in posted or not idem.startswith(f"{flow.name}|"),
        actor=actor,
        run_id=None,
        summary="found in the target when it was adopted",
        action="recovered",
    )
    position = flow.target.flush()
    batch.cursors.append(CursorRow(flow="*", name=target_cursor(flow), value="", position=position))
    batch.audit.append(
        AuditEvent(
            actor=actor,
            action="target-adopted",
            record_key="",
            at=datetime.now(UTC),
            diff={
                "target": [None, flow.target.name],
                "position": [cursor.position if cursor else None, position],
                "recorded": [None, len(batch.postings)],
                "reason": [None, reason],
            },
        )
    )
    store.commit(batch)
    return Adopted(
        flow=flow.name,
        target=flow.target.name,
        position_before=cursor.position if cursor else None,
        position_after=position,
        recorded=len(batch.postings),
        held=len(found),
    )
