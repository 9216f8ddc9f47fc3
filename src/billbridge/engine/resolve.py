"""Settle a two-way conflict: take one side's value, or a value of a person's own.

Why a function of its own (and not a replay): a conflict means both systems hold a
change billbridge will not choose between. `resolve` reads both sides as they are now,
writes the chosen value to each side that does not hold it (read back and verified,
like every write), moves both bases to what each side then holds, closes the field
conflicts and their queue row, and audits who chose what. The audit row keeps the
values only as hashes salted per subject (engine/privacy.py). The CLI
(`billbridge resolve ID --take CONNECTION | --value V`), the API and the web UI call it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from billbridge.connectors.records import RecordTarget
from billbridge.domain import Canonical
from billbridge.store.base import (
    Audit,
    AuditEvent,
    ConflictRow,
    Pairs,
    Privacy,
    Queue,
    Records,
    Statement,
    base_statement,
    resolve_statement,
)

from .model import FlowRuntime
from .privacy import hashed
from .records import records_of
from .twoway_run import nothing
from .twoway_values import comparable, from_comparable

__all__ = ["ResolveError", "ResolveState", "Resolved", "resolve_conflict"]


class ResolveState(Queue, Records, Audit, Pairs, Privacy, Protocol):
    """Resolving reads the queue and the pair's conflicts, and writes bases and audit."""


class ResolveError(Exception):
    """The row cannot be resolved as asked (the message says why and what to do)."""


@dataclass(slots=True, kw_only=True)
class Resolved:
    row: int
    record: str
    fields: list[str]
    took: str
    written: dict[str, list[str]] = field(default_factory=dict)  # side -> fields written

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "record": self.record, "fields": self.fields,
                "took": self.took, "written": self.written}  # fmt: skip


def _value_text(value: str) -> str:
    """A person's `--value` as comparable JSON: JSON if it parses, else the text itself."""
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return orjson.dumps(value).decode()
    return value


def resolve_conflict(
    store: ResolveState,
    flow_of: Callable[[str], FlowRuntime],
    row_id: int,
    *,
    take: str | None = None,
    value: str | None = None,
    fields: Sequence[str] = (),
    actor: str,
) -> Resolved:
    """Resolve queue row `row_id` (a field conflict) by `take` or `value`."""
    if (take is None) == (value is None):
        raise ResolveError("say how to settle it: --take CONNECTION or --value V (one of them)")
    row = store.get_exception(row_id)
    if row is None:
        raise ResolveError(f"no queue row {row_id}")
    if row.status != "open":
        raise ResolveError(f"queue row {row_id} is {row.status}, not open")
    conflicts = [c for c in store.conflicts_of_record(row.flow, row.record_key)
                 if not fields or c.field in fields]  # fmt: skip
    if not conflicts:
        raise ResolveError(
            f"queue row {row_id} holds no field conflict"
            + (f" for {', '.join(fields)}" if fields else "")
            + "; a deletion report is closed with `billbridge queue dismiss`"
        )
    if value is not None and len(conflicts) > 1:
        listed = ", ".join(c.field for c in conflicts)
        raise ResolveError(f"several fields are in conflict ({listed}): name one with --field")
    flow = flow_of(row.flow)
    pair = flow.twoway
    other_target = records_of(flow.target)
    if pair is None or other_target is None:
        raise ResolveError(f"flow {row.flow} is not part of a two-way pair any more")
    if take is not None and take not in (pair.a, pair.b):
        raise ResolveError(f"--take names {take!r}; the two sides are {pair.a} and {pair.b}")
    first = conflicts[0]
    obj = _object_of(first)
    targets = {pair.this: pair.this_target, pair.other: other_target}
    normalize = {pair.this: flow.normalize, pair.other: pair.other_normalize}
    keys = {pair.a: first.a_key, pair.b: first.b_key}
    now_values: dict[str, Canonical] = {}
    for side, key in keys.items():
        held = targets[side].read(obj, key.rsplit(":", 1)[-1])
        got = normalize[side](held.fields, record=key, resolve=nothing).value if held else None
        if got is None:
            raise ResolveError(f"{key} is gone from {side}; dismiss the row instead")
        now_values[side] = got
    chosen = {
        c.field: comparable(c.field, getattr(now_values[take], c.field)) if take is not None
        else comparable(c.field, from_comparable(c.field, _value_text(value or ""),
                                                 getattr(now_values[pair.a], c.field)))
        for c in conflicts
    }  # fmt: skip
    result = Resolved(row=row_id, record=row.record_key, fields=sorted(chosen),
                      took=take or "value")  # fmt: skip
    held_now = dict(now_values)
    audit: list[AuditEvent] = []
    for side in (pair.a, pair.b):
        names = [n for n, text in chosen.items()
                 if comparable(n, getattr(now_values[side], n)) != text]  # fmt: skip
        if not names:
            continue
        changes = {n: from_comparable(n, chosen[n], getattr(now_values[side], n)) for n in names}
        merged = replace(now_values[side], **changes)
        held_now[side] = _write(targets[side], normalize[side], obj, keys, side, pair.a,
                                pair.b, merged)  # fmt: skip
        result.written[side] = names
        audit.append(AuditEvent(
            actor=actor, action="written", record_key=first.a_key,
            diff={"how": [None, "updated"], "object": [None, keys[side]],
                  "fields": [None, names], "by": [None, "resolve"]},
        ))  # fmt: skip
    statements = _settled(conflicts, held_now, pair.a, pair.b, result.took)
    closing = (f"resolved by {actor}: {result.took}", datetime.now(UTC), row.flow, row.record_key)
    statements.append(("close_exception", closing))
    salt = store.subject_salt(first.a_key)
    audit.append(AuditEvent(
        actor=actor, action="resolved", record_key=first.a_key,
        diff={"row": [None, row_id], "fields": [None, result.fields],
              "took": [None, result.took],
              "values": [None, {n: hashed(salt, t) for n, t in sorted(chosen.items())}]},
    ))  # fmt: skip
    store.commit_statements(statements, audit)
    return result


def _object_of(conflict: ConflictRow) -> str:
    return conflict.a_key.split(":")[1]


def _write(target: RecordTarget, normalize: Any, obj: str, keys: dict[str, str], side: str,
           a: str, b: str, merged: Canonical) -> Canonical:  # fmt: skip
    our_key = keys[b] if side == a else keys[a]
    asked = target.fields(merged, record_key=our_key)
    if asked is None:
        raise ResolveError(f"{target.name} keeps no {obj}")
    ident = keys[side].rsplit(":", 1)[-1]
    held = target.update(obj, ident, our_key, asked, idempotency_key=f"resolve|{keys[side]}")
    back = target.read(obj, held.id) or held
    differ = target.differences(asked, back.fields)
    if differ:
        raise ResolveError(f"{keys[side]} did not keep {', '.join(differ)} as written")
    value = normalize(back.fields, record=keys[side], resolve=nothing).value
    if value is None:
        raise ResolveError(f"{keys[side]} could not be read back")
    return value  # type: ignore[no-any-return]


def _settled(conflicts: Sequence[ConflictRow], held: dict[str, Canonical], a: str, b: str,
             took: str) -> list[Statement]:  # fmt: skip
    now = datetime.now(UTC)
    statements: list[Statement] = []
    for c in conflicts:
        text = orjson.dumps({"a": comparable(c.field, getattr(held[a], c.field)),
                             "b": comparable(c.field, getattr(held[b], c.field))},
                            option=orjson.OPT_SORT_KEYS).decode()  # fmt: skip
        statements.append(base_statement(c.pair, c.a_key, c.field, text, now))
        statements.append(resolve_statement(c.id, f"resolved: {took}", now))
    return statements
