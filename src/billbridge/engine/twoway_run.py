"""One record's pass through a two-way pair: link, read both sides, decide, write, record.

Kept apart from `twoway.py` (the pair's configuration and its entry point) so each stays
readable; see that module for why and how.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from billbridge.connectors.base import RecordError
from billbridge.connectors.records import Held, OriginTarget
from billbridge.domain import Canonical, Problem
from billbridge.store.base import (
    AuditEvent,
    ExceptionRow,
    OutcomeRow,
    base_statement,
    link_statement,
)

from .owners import Action, FieldDecision, FieldOwner, decide
from .privacy import hashed
from .twoway_values import comparable, conflict_rows, settle_rows

if TYPE_CHECKING:
    from .records import RecordWriter
    from .twoway import TwoWayState, TwoWaySync

__all__ = ["PairRun", "nothing", "report"]


def nothing(_object: str, _id: str, /) -> Mapping[str, Any] | None:
    return None


def report(
    pipe: Any,
    flow: str,
    a_key: str,
    key: str,
    version: str,
    field_: str,
    message: str,
    hint: str,
    now: datetime,
) -> None:
    """A queue row under the pair's flow and the link's first key, and this record's outcome."""
    batch = pipe.batch
    batch.exceptions.append(
        ExceptionRow(
            flow=flow,
            record_key=a_key,
            version=version,
            kind="conflict",
            error=message,
            at=now,
            field=field_,
            hint=hint,
        )
    )
    batch.outcomes.append(
        OutcomeRow(
            run_id=pipe.run_id,
            flow=pipe.flow.name,
            record_key=key,
            version=version,
            outcome="conflict",
            at=now,
            error=message,
            field=field_,
            hint=hint,
        )
    )
    if flow == pipe.flow.name:
        pipe._queued.add(a_key)


class PairRun:
    """One record's pass through the pair (kept apart so `TwoWaySync` stays a config)."""

    def __init__(
        self,
        sync: TwoWaySync,
        writer: RecordWriter,
        store: TwoWayState,
        key: str,
        version: str,
        obj: str,
        now: datetime,
    ) -> None:
        self.sync = sync
        self.writer = writer
        self.pipe = writer.pipe
        self.store = store
        self.key = key
        self.version = version
        self.obj = obj
        self.now = now
        self.fields = sync.objects[obj]
        self.owners = sync.owners.get(obj, {})

    def retry_later(self, message: str) -> str:
        from .retry import FailureKind  # noqa: PLC0415

        problem = Problem(
            record=self.key,
            field="target",
            message=message,
            hint="billbridge tries it again at the next sync",
        )
        return self.pipe._fail(self.key, self.version, (problem,), FailureKind.RETRYABLE, self.now)

    # ------------------------------------------------------------------ linking
    def go(self, link: Any) -> str:
        sync, pipe = self.sync, self.pipe
        source_id = self.key.rsplit(":", 1)[-1]
        this_data = pipe.resolve(self.obj, source_id) or {}
        this_value = pipe.flow.normalize(this_data, record=self.key, resolve=pipe.resolve).value
        assert this_value is not None  # the writer got it from the same data
        first = link is None
        if link is None:
            found = self._find_other(source_id, this_data, this_value)
            if isinstance(found, str):
                return found  # created on the other side (or failed)
            other_key, held = found
            self._link(other_key)
        else:
            other_key = link.other(self.key)
            now_held = self.writer.target.read(self.obj, other_key.rsplit(":", 1)[-1])
            if now_held is None:
                return sync._deleted(
                    self.writer, self.key, self.version, self.obj, link, sync.other, self.now
                )
            held = now_held
        normalized = sync.other_normalize(held.fields, record=other_key, resolve=nothing)
        other_value = normalized.value
        if other_value is None or type(other_value) is not type(this_value):
            raise RecordError(
                f"{other_key} could not be read as a {self.obj}: "
                + "; ".join(p.message for p in normalized.problems)
            )
        return self._compare(this_value, other_value, other_key, held, first)

    def _find_other(
        self, source_id: str, this_data: Mapping[str, Any], this_value: Canonical
    ) -> tuple[str, Held] | str:
        """The other side's object for an unlinked record, else created there."""
        sync, target = self.sync, self.writer.target
        origin = None
        if isinstance(sync.this_target, OriginTarget):
            origin = sync.this_target.origin(self.obj, Held(id=source_id, fields=this_data))
        if origin and origin.startswith(f"{sync.other}:{self.obj}:"):
            held = target.read(self.obj, origin.rsplit(":", 1)[-1])
            if held is not None:
                return origin, held  # billbridge wrote this record from the other side
        asked = target.fields(this_value, record_key=self.key)
        if asked is None:
            raise RecordError(f"{target.name} keeps no {self.obj}")
        found = target.find(self.obj, self.key, asked)
        if found is not None:
            return f"{sync.other}:{self.obj}:{found.id}", found
        outcome = self.writer.write_plain(self.key, self.version, this_value, self.now)
        if outcome != "synced":
            return outcome
        made = self.writer.last_written(self.key)
        other_key = f"{sync.other}:{self.obj}:{made.id}"
        self._link(other_key)
        back = target.read(self.obj, made.id) or made
        other_value = sync.other_normalize(back.fields, record=other_key, resolve=nothing).value
        if other_value is not None:
            self._bases(this_value, other_value, self.fields)
        self.pipe.posted_keys.append(self.key)
        return outcome

    def _link(self, other_key: str) -> None:
        sync, pipe = self.sync, self.pipe
        a_key, b_key = self._ab(other_key)
        pipe.batch.statements.append(link_statement(sync.pair, self.obj, a_key, b_key, self.now))
        pipe.batch.audit.append(
            AuditEvent(
                actor=pipe.actor,
                action="linked",
                record_key=a_key,
                run_id=pipe.run_id,
                at=self.now,
                diff={"link": [None, b_key], "pair": [None, sync.pair]},
            )
        )
        self.a_key = a_key

    def _ab(self, other_key: str) -> tuple[str, str]:
        return (self.key, other_key) if self.sync.this == self.sync.a else (other_key, self.key)

    # ------------------------------------------------------------------ three-way
    def _compare(
        self, this_value: Canonical, other_value: Canonical, other_key: str, held: Held, first: bool
    ) -> str:
        sync, pipe = self.sync, self.pipe
        a_key, b_key = self._ab(other_key)
        self.a_key = a_key
        stored = {} if first else self.store.field_bases(sync.pair, a_key)
        values = {sync.this: this_value, sync.other: other_value}
        decisions: dict[str, FieldDecision] = {}
        for name in self.fields:
            va = comparable(name, getattr(values[sync.a], name))
            vb = comparable(name, getattr(values[sync.b], name))
            base = stored.get(name)
            bases = None
            if base is not None:
                both = orjson.loads(base)
                bases = (both["a"], both["b"])
            owner = self.owners.get(name) or FieldOwner(owner=sync.a)
            decisions[name] = decide(
                sides=(sync.a, sync.b), values=(va, vb), bases=bases, owner=owner
            )
        writes: dict[str, list[str]] = {}
        for name, decision in decisions.items():
            if decision.action in (Action.PROPAGATE, Action.REVERT):
                writes.setdefault(decision.write_to, []).append(name)
        held_now = {sync.this: this_value, sync.other: other_value}
        ids = {sync.this: self.key.rsplit(":", 1)[-1], sync.other: other_key.rsplit(":", 1)[-1]}
        keys = {sync.this: self.key, sync.other: other_key}
        for side, names in sorted(writes.items()):
            source = {n: values[decisions[n].source] for n in names}
            merged = replace(held_now[side], **{n: getattr(source[n], n) for n in names})
            back = self._write(side, ids[side], keys, merged, names, decisions)
            if isinstance(back, str):
                return back
            held_now[side] = back
        settled = [n for n, d in decisions.items() if d.action is not Action.CONFLICT]
        if settled:
            self._bases(held_now[sync.this], held_now[sync.other], settled)
        conflicts = {n: d for n, d in decisions.items() if d.action is Action.CONFLICT}
        open_rows = self.store.open_conflicts(sync.pair, a_key)
        pipe.batch.statements.extend(settle_rows(open_rows, conflicts, self.now))
        if conflicts:
            return self._conflict(conflicts, values, stored, a_key, b_key, other_key)
        if open_rows and not (sync.conflict_flow == pipe.flow.name and a_key == self.key):
            pipe.batch.closed_exceptions.append(
                (sync.conflict_flow, a_key, f"settled in run {pipe.run_id}")
            )
        if writes or first:
            pipe.posted_keys.append(self.key)
        return pipe._succeed(self.key, self.version, (), self.now)

    def _write(
        self,
        side: str,
        ident: str,
        keys: Mapping[str, str],
        merged: Canonical,
        names: list[str],
        decisions: Mapping[str, FieldDecision],
    ) -> Canonical | str:
        """Update one side with the decided fields, read it back, record it."""
        sync, pipe = self.sync, self.pipe
        target = self.writer.target if side == sync.other else sync.this_target
        our_key = keys[sync.this] if side == sync.other else keys[sync.other]
        asked = target.fields(merged, record_key=our_key)
        if asked is None:
            raise RecordError(f"{target.name} keeps no {self.obj}")
        facet = "record" if side == sync.other else "revert"
        _, held = self.writer.update_side(
            target,
            self.obj,
            ident,
            our_key,
            asked,
            facet,
            self.key,
            self.version,
            self.now,
            audit={
                "fields": sorted(names),
                "owner": {n: decisions[n].source for n in names},
                "side": side,
            },
        )
        normalize = sync.other_normalize if side == sync.other else pipe.flow.normalize
        back = normalize(held.fields, record=keys[side], resolve=nothing).value
        if back is None:
            raise RecordError(f"{keys[side]} could not be read back as a {self.obj}")
        return back

    def _bases(self, this_value: Canonical, other_value: Canonical, names: Any) -> None:
        sync = self.sync
        va, vb = (this_value, other_value) if sync.this == sync.a else (other_value, this_value)
        for name in names:
            text = orjson.dumps(
                {
                    "a": comparable(name, getattr(va, name)),
                    "b": comparable(name, getattr(vb, name)),
                },
                option=orjson.OPT_SORT_KEYS,
            ).decode()
            self.pipe.batch.statements.append(
                base_statement(sync.pair, self.a_key, name, text, self.now)
            )

    def _conflict(
        self,
        conflicts: Mapping[str, FieldDecision],
        values: Mapping[str, Canonical],
        stored: Mapping[str, str],
        a_key: str,
        b_key: str,
        other_key: str,
    ) -> str:
        sync, pipe = self.sync, self.pipe
        other_row = self.store.get_record(other_key)
        seen = {sync.this: self.now, sync.other: other_row.seen_at if other_row else self.now}
        rows, message = conflict_rows(
            pair=sync.pair,
            a=sync.a,
            b=sync.b,
            a_key=a_key,
            b_key=b_key,
            fields=conflicts,
            values=values,
            stored=stored,
            seen=seen,
            flow=sync.conflict_flow,
            now=self.now,
            owners=self.owners,
        )
        pipe.batch.statements.extend(rows)
        salt = self.store.subject_salt(a_key)
        names = sorted(conflicts)
        hint = (
            f"settle it: `billbridge resolve ID --take {sync.a}` (or {sync.b}), or "
            f"`--value …` for a value of your own"
        )
        report(
            pipe,
            sync.conflict_flow,
            a_key,
            self.key,
            self.version,
            ",".join(names),
            message,
            hint,
            self.now,
        )
        pipe.batch.audit.append(
            AuditEvent(
                actor=pipe.actor,
                action="conflict",
                record_key=a_key,
                run_id=pipe.run_id,
                at=self.now,
                diff={
                    "fields": [None, names],
                    "values": [
                        None,
                        {
                            n: {
                                side: hashed(salt, comparable(n, getattr(values[side], n)))
                                for side in (sync.a, sync.b)
                            }
                            for n in names
                        },
                    ],
                },
            )
        )
        return "conflict"
