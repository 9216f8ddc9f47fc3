"""One function decides every role check (CLI, API, UI): a table of cases."""

from __future__ import annotations

import pytest

from billbridge.roles import ACTIONS, ROLES, needed_role, permits, refusal

ALLOWED = {
    "viewer": {"read"},
    "operator": {"read", "run", "retry", "replay", "dismiss", "resolve"},
    "mapper": {"read", "run", "retry", "replay", "dismiss", "resolve", "draft", "test"},
    "approver": {"read", "run", "retry", "replay", "dismiss", "resolve", "draft", "test",
                 "promote", "rollback", "approve", "reject"},
    "admin": set(ACTIONS),
}  # fmt: skip
ONLY_ADMIN = {"manage-users", "erase"}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_exactly_its_actions(role: str) -> None:
    assert {a for a in ACTIONS if permits(role, a)} == ALLOWED[role]


def test_only_an_admin_may_manage_users_or_erase() -> None:
    assert {a for a in ACTIONS if not permits("approver", a)} == ONLY_ADMIN


def test_a_role_names_itself_and_the_ones_below() -> None:
    assert [r for r in ROLES if permits("mapper", r)] == ["viewer", "operator", "mapper"]
    assert needed_role("approve") == "approver" and needed_role("operator") == "operator"


def test_unknown_roles_permit_nothing_and_refusals_read_well() -> None:
    assert not permits("root", "read") and not permits("", "read")
    assert refusal("ana", "admin", "promote") is None
    assert refusal("otto", "operator", "approve") == (
        "otto is an operator; `approve` needs the approver role or higher"
    )
    assert refusal("vera", "viewer", "mapper") == (
        "vera is a viewer; this needs the mapper role or higher"
    )
