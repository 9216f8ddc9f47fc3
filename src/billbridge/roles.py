"""Who may do what: the five roles and the one function that decides every check.

Why a core module of its own: the CLI, the REST API and the web UI must refuse the same
things for the same reasons, and the CLI must decide without the `service` extra
installed. Roles are ordered; each holds every right of the ones before it:

| role | may also |
|---|---|
| viewer | read everything |
| operator | start runs, retry, replay, dismiss queue rows, resolve two-way conflicts |
| mapper | create mapping drafts and test them on recorded data |
| approver | promote and roll back mapping versions, approve or reject held records |
| admin | manage users and API tokens, erase a person's data |

Some checks need more than a role (four-eyes: the author of a draft or of a record's
last change may not approve it); those live with the action (engine/mapping_change.py,
engine/approvals.py) and call `permits` first.
"""

from __future__ import annotations

from typing import Final, Literal, cast, get_args

__all__ = [
    "ACTIONS",
    "ROLES",
    "Action",
    "Role",
    "needed_role",
    "permits",
    "refusal",
]

Role = Literal["viewer", "operator", "mapper", "approver", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
_RANK: Final = {role: rank for rank, role in enumerate(ROLES)}

Action = Literal[
    "read",
    "run",
    "retry",
    "replay",
    "dismiss",
    "resolve",
    "draft",
    "test",
    "promote",
    "rollback",
    "approve",
    "reject",
    "manage-users",
    "erase",
]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

_NEEDS: Final[dict[Action, Role]] = {
    "read": "viewer",
    "run": "operator",
    "retry": "operator",
    "replay": "operator",
    "dismiss": "operator",
    "resolve": "operator",
    "draft": "mapper",
    "test": "mapper",
    "promote": "approver",
    "rollback": "approver",
    "approve": "approver",
    "reject": "approver",
    "manage-users": "admin",
    "erase": "admin",
}


def needed_role(what: Action | Role) -> Role:
    """The least role that may do `what` (a role names itself)."""
    for role in ROLES:
        if what == role:
            return role
    return _NEEDS[cast(Action, what)]


def permits(role: str, what: Action | Role) -> bool:
    """Whether `role` may do `what`: an action, or "at least this role". Every check asks here.

    An unknown role (a row written by a newer billbridge, a typo) permits nothing.
    """
    rank = _RANK.get(cast(Role, role))  # any text may arrive: then None
    return rank is not None and rank >= _RANK[needed_role(what)]


def refusal(name: str, role: str, what: Action | Role) -> str | None:
    """None when allowed, else the sentence the CLI, API and UI all show."""
    if permits(role, what):
        return None
    needed = needed_role(what)
    doing = f"`{what}` needs" if what in _NEEDS else "this needs"
    article = "an" if role[:1] in "aeiou" else "a"
    return f"{name} is {article} {role}; {doing} the {needed} role or higher"
