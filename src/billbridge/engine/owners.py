"""Field owners: who wins when the two sides of a two-way sync disagree (a pure policy).

Why a pure function: "why did the CRM's e-mail overwrite Stripe's?" is the question
finance asks, and the answer must be a rule one can read and test as a table, like the
retry policy (`retry.py`). Each side's value of a field is compared with the value that
side held right after billbridge last synced it (its *base*): one base per side, so a
system that keeps a value in its own form (a CRM without an address's second line) is
not mistaken for one that changed it.

| base | this side changed | other changed | decision |
|---|---|---|---|
| none (first sync) | any | any | equal: `accept`; else the owner's value `propagate`s |
| yes | no | no | `nothing` |
| yes | yes | yes | equal now: `accept`; else `conflict` (always) |
| yes | owner only | no | `propagate` the owner's value to the other side |
| yes | non-owner only | no | its policy: `revert` (owner's value written back) or `conflict` |

`accept` moves only the bases (both sides already agree); nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Action", "FieldDecision", "FieldOwner", "Policy", "decide"]


class Policy(StrEnum):
    """What a change made by a field's non-owner leads to."""

    REVERT = "revert"  # the owner's value is written back over it (audited)
    CONFLICT = "conflict"  # a queue row for a person to settle


class Action(StrEnum):
    NOTHING = "nothing"
    ACCEPT = "accept"
    PROPAGATE = "propagate"
    REVERT = "revert"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldOwner:
    """The connection that is a field's source of truth, and what a non-owner change does."""

    owner: str
    policy: Policy = Policy.CONFLICT


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldDecision:
    """`write_to` receives the value `source` holds now ("" for both: nothing is written)."""

    action: Action
    write_to: str = ""
    source: str = ""
    reason: str = ""


def decide(
    *,
    sides: tuple[str, str],
    values: tuple[str, str],
    bases: tuple[str, str] | None,
    owner: FieldOwner,
) -> FieldDecision:
    """The decision for one field of a two-way pair `sides` (two connection names).

    `values` are each side's value now and `bases` each side's value after the last sync
    (None: never synced), all in one comparable form (JSON text).
    """
    a, b = sides
    va, vb = values
    if owner.owner not in sides:
        raise ValueError(f"the owner {owner.owner!r} is not one of {a!r} and {b!r}")
    other = b if owner.owner == a else a
    if bases is None:
        if va == vb:
            return FieldDecision(action=Action.ACCEPT, reason="both sides agree")
        return FieldDecision(
            action=Action.PROPAGATE, write_to=other, source=owner.owner,
            reason=f"first sync: {owner.owner} owns the field",
        )  # fmt: skip
    changed = {a: va != bases[0], b: vb != bases[1]}
    if not changed[a] and not changed[b]:
        return FieldDecision(action=Action.NOTHING)
    if changed[a] and changed[b]:
        if va == vb:
            return FieldDecision(action=Action.ACCEPT, reason="both sides made the same change")
        return FieldDecision(action=Action.CONFLICT, reason="changed on both sides")
    moved = a if changed[a] else b
    if moved == owner.owner:
        return FieldDecision(
            action=Action.PROPAGATE, write_to=other, source=moved,
            reason=f"changed by its owner {moved}",
        )  # fmt: skip
    if owner.policy is Policy.REVERT:
        return FieldDecision(
            action=Action.REVERT, write_to=moved, source=owner.owner,
            reason=f"changed by {moved}, which does not own it: {owner.owner}'s value restored",
        )  # fmt: skip
    return FieldDecision(
        action=Action.CONFLICT,
        reason=f"changed by {moved}, which does not own it ({owner.owner} does)",
    )
