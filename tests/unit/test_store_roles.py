"""The store's protocol is split into roles, and modules name the roles they use (issue 15).

Two things keep the split true as the store grows: every method the backends share
belongs to exactly one role (a new method must be given a role, or `Store` would
silently grow a part no module can name), and no engine or worker module takes the
whole `Store` (only the edges that open it: wiring, the CLI, the service).
"""

from __future__ import annotations

import ast
from pathlib import Path

from billbridge.store import roles
from billbridge.store._common import SqlStore

ROLES = (
    roles.Runs, roles.Batches, roles.Records, roles.Queue, roles.Audit, roles.Numbers,
    roles.Monitor, roles.Users, roles.Inbox, roles.WriteBacks, roles.Mappings, roles.Pairs,
    roles.Privacy,
)  # fmt: skip
SRC = Path(__file__).parents[2] / "src" / "billbridge"


def _methods(cls: type) -> set[str]:
    return {n for n in vars(cls) if not n.startswith("_") and callable(getattr(cls, n))}


def test_every_method_of_the_store_has_exactly_one_role() -> None:
    owners: dict[str, list[str]] = {}
    for role in ROLES:
        for name in _methods(role):
            owners.setdefault(name, []).append(role.__name__)
    assert {n: o for n, o in owners.items() if len(o) > 1} == {}
    shared = {n for n in dir(SqlStore) if not n.startswith("_") and callable(getattr(SqlStore, n))}
    assert shared - set(owners) - {"close"} == set(), "give the new store method a role"
    assert set(owners) <= shared, "a role names a method the backends do not have"


def test_engine_and_worker_modules_name_roles_not_the_whole_store() -> None:
    whole: list[str] = []
    for folder in ("engine", "worker"):
        for path in sorted((SRC / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            whole.extend(
                f"{path.relative_to(SRC)}:{node.lineno}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Name) and node.id == "Store"
            )
    assert whole == []
