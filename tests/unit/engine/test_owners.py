"""The field-owner policy as a table: each side's value now and after the last sync, the
owner and its policy, in; what billbridge does, out (engine/owners.py)."""

from __future__ import annotations

import pytest

from billbridge.engine.owners import Action, FieldDecision, FieldOwner, Policy, decide

SIDES = ("crm", "stripe")
CRM_REVERT = FieldOwner(owner="crm", policy=Policy.REVERT)
CRM_CONFLICT = FieldOwner(owner="crm", policy=Policy.CONFLICT)
STRIPE_REVERT = FieldOwner(owner="stripe", policy=Policy.REVERT)


@pytest.mark.parametrize(
    ("values", "bases", "owner", "expected"),
    [
        # first sync: no base
        (("x", "x"), None, CRM_CONFLICT, (Action.ACCEPT, "", "")),
        (("x", "y"), None, CRM_CONFLICT, (Action.PROPAGATE, "stripe", "crm")),
        (("x", "y"), None, STRIPE_REVERT, (Action.PROPAGATE, "crm", "stripe")),
        # nothing moved (also: a side whose own form differs from the other's)
        (("x", "x"), ("x", "x"), CRM_CONFLICT, (Action.NOTHING, "", "")),
        (("x", "x-short"), ("x", "x-short"), CRM_REVERT, (Action.NOTHING, "", "")),
        # the owner changed alone: propagate, whichever side it is
        (("new", "x"), ("x", "x"), CRM_CONFLICT, (Action.PROPAGATE, "stripe", "crm")),
        (("x", "new"), ("x", "x"), STRIPE_REVERT, (Action.PROPAGATE, "crm", "stripe")),
        # a non-owner changed alone: its policy
        (("x", "new"), ("x", "x"), CRM_REVERT, (Action.REVERT, "stripe", "crm")),
        (("x", "new"), ("x", "x"), CRM_CONFLICT, (Action.CONFLICT, "", "")),
        (("new", "x"), ("x", "x"), STRIPE_REVERT, (Action.REVERT, "crm", "stripe")),
        # both changed: the same way is agreement, otherwise always a conflict
        (("new", "new"), ("x", "x"), CRM_REVERT, (Action.ACCEPT, "", "")),
        (("one", "two"), ("x", "x"), CRM_REVERT, (Action.CONFLICT, "", "")),
        (("one", "two"), ("x", "x"), STRIPE_REVERT, (Action.CONFLICT, "", "")),
        # echo: billbridge wrote "new" to stripe, stripe's base moved with it
        (("new", "new"), ("new", "new"), CRM_REVERT, (Action.NOTHING, "", "")),
    ],
)
def test_decision_table(
    values: tuple[str, str],
    bases: tuple[str, str] | None,
    owner: FieldOwner,
    expected: tuple[Action, str, str],
) -> None:
    decision = decide(sides=SIDES, values=values, bases=bases, owner=owner)
    assert (decision.action, decision.write_to, decision.source) == expected
    assert isinstance(decision, FieldDecision)


def test_an_owner_outside_the_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        decide(sides=SIDES, values=("a", "b"), bases=None, owner=FieldOwner(owner="books"))
