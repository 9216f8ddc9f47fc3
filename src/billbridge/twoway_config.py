"""Two-way pairs in billbridge.yaml, and the `owners:` every pair needs.

Why at load time: a field two systems both edit, with no rule for which one wins, is
how one of them silently overwrites the other. A *two-way pair* is two record flows in
opposite directions between the same connections (`crm → stripe` and `stripe → crm`);
it syncs, per canonical object both record targets keep, the fields both keep (their
specs' `record_fields`). Each such field needs an owner:

```yaml
owners:
  customer:
    name: {owner: crm, policy: revert}     # a change in stripe is written back over
    email: crm                             # short form: policy conflict
    address: {owner: stripe, policy: conflict}
```

A missing owner is a configuration error naming the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from .connectors.registry import connector_spec

__all__ = [
    "OwnerConfig",
    "PairPlan",
    "owner_problems",
    "owner_short_form",
    "pair_name",
    "two_way_pairs",
]


class OwnerConfig(BaseModel):
    """`owners: <object>: <field>:` — the connection that owns a field of a two-way pair,
    and what a change by the other one leads to (engine/owners.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str
    policy: Literal["revert", "conflict"] = "conflict"


def owner_short_form(value: Any) -> Any:
    """`email: crm` is `email: {owner: crm}` (policy conflict)."""
    if isinstance(value, dict):
        return {
            obj: {f: {"owner": r} if isinstance(r, str) else r for f, r in fields.items()}
            if isinstance(fields, dict) else fields
            for obj, fields in value.items()
        }  # fmt: skip
    return value


class _Flow(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def target(self) -> str: ...


class _Owner(Protocol):
    @property
    def owner(self) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PairPlan:
    """`a`, `b`: the connections, sorted; `flow_ab` reads a and writes b, `flow_ba` back.

    `objects`: canonical object -> the fields synced both ways. `index`: where the later
    of the two flows stands in `flows:` (the line an error points at).
    """

    pair: str
    a: str
    b: str
    flow_ab: str
    flow_ba: str
    objects: Mapping[str, tuple[str, ...]]
    index: int


def pair_name(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"{first}|{second}"


def _kept(kind: str) -> Mapping[str, tuple[str, ...]]:
    spec = connector_spec(kind)
    return spec.record_fields or {} if spec.record_target is not None else {}


def two_way_pairs(flows: Sequence[_Flow], connectors: Mapping[str, str]) -> list[PairPlan]:
    """Every pair of record flows in opposite directions (`connectors`: name -> kind)."""
    found: list[PairPlan] = []
    for j, back in enumerate(flows):
        for i, there in enumerate(flows[:j]):
            if (there.source, there.target) != (back.target, back.source):
                continue
            kept_a, kept_b = _kept(connectors[there.source]), _kept(connectors[there.target])
            objects = {
                obj: tuple(f for f in kept_a[obj] if f in kept_b[obj])
                for obj in kept_a
                if obj in kept_b
            }
            if not objects:
                continue
            a, b = sorted((there.source, there.target))
            ab, ba = (there, back) if there.source == a else (back, there)
            found.append(
                PairPlan(
                    pair=pair_name(a, b),
                    a=a,
                    b=b,
                    flow_ab=ab.name,
                    flow_ba=ba.name,
                    objects=objects,
                    index=max(i, j),
                )
            )
    return found


def owner_problems(
    pairs: Sequence[PairPlan], owners: Mapping[str, Mapping[str, _Owner]]
) -> list[tuple[tuple[str | int, ...], tuple[str | int, ...], str]]:
    """(field path, path of the line to show, message) for each field without a good owner."""
    problems: list[tuple[tuple[str | int, ...], tuple[str | int, ...], str]] = []
    for plan in pairs:
        declared = owners.get
        for obj, fields in plan.objects.items():
            mine = declared(obj) or {}
            line: tuple[Any, ...] = ("flows", plan.index)
            if obj in owners:
                line = ("owners", obj)
            elif owners:
                line = ("owners",)
            for name in fields:
                rule = mine.get(name)
                where = ("owners", obj, name)
                if rule is None:
                    problems.append((where, line, (
                        f"no owner for {obj} field `{name}`, which flows {plan.flow_ab} and "
                        f"{plan.flow_ba} sync both ways; write `{name}: {{owner: {plan.a}, "
                        f"policy: conflict}}` (or owner {plan.b}) under `owners: {obj}:`"
                    )))  # fmt: skip
                elif rule.owner not in (plan.a, plan.b):
                    problems.append((where, where, (
                        f"the owner of {obj} `{name}` must be {plan.a} or {plan.b} (the two "
                        f"connections of flows {plan.flow_ab} and {plan.flow_ba}), not "
                        f"{rule.owner!r}"
                    )))  # fmt: skip
    return problems
