"""Two-way sync: one record linked on both sides of a pair, field by field, with owners.

Why here, inside a record flow's last step: the two flows of a pair (`crm → stripe` and
`stripe → crm`) each read their own source; whichever reads a changed record of a
two-way object (a customer) hands it here instead of writing it blindly. For the
record's link (its id on the other side; made on first sight, by the other side's key
stamped in it, by our key found there, or by creating it), both sides are compared
with what each held after the last sync (its *base*, stored per side and field in
`field_bases`), and the pure policy (`owners.decide`) says per field: nothing, accept,
propagate the owner's value, revert a non-owner's change, or queue a conflict.

No echo: after a write, the written side's base is what it holds when read back, so
the change coming back through the other flow compares equal and writes nothing. A
write whose commit was lost (a crash) is found the same way: both sides agree, only
the bases move. A record deleted on one side archives the link and is reported in
the queue; nothing is deleted elsewhere and no posting is touched.

The audit log names fields, never values; the values of a conflict are kept in the
queue (erasable) and only as salted hashes in the audit log (`privacy.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from billbridge.connectors.base import RecordError, RetryableError
from billbridge.connectors.records import RecordTarget
from billbridge.connectors.source import Normalize
from billbridge.domain import Canonical, Deleted
from billbridge.store.base import (
    AuditEvent,
    Pairs,
    Privacy,
    SyncState,
    archive_link,
)

from .owners import FieldOwner
from .twoway_run import PairRun, report

if TYPE_CHECKING:
    from .pipeline import RecordPipeline
    from .records import RecordWriter

__all__ = ["TwoWayState", "TwoWaySync"]


class TwoWayState(SyncState, Pairs, Privacy, Protocol):
    """The record path's state plus the pairs' links, bases, conflicts and salts."""


@dataclass(slots=True, kw_only=True)
class TwoWaySync:
    """The two-way part of one record flow: this flow reads `this` and writes `other`."""

    pair: str
    a: str
    b: str
    this: str
    other: str
    objects: Mapping[str, tuple[str, ...]]
    owners: Mapping[str, Mapping[str, FieldOwner]]
    conflict_flow: str
    this_target: RecordTarget
    other_normalize: Normalize

    def handles(self, obj: str) -> bool:
        return obj in self.objects

    def close(self) -> None:
        self.this_target.close()

    def sweep(self, pipe: RecordPipeline, seen: set[str]) -> None:
        """After a whole pass of a snapshot source: linked records it no longer holds.

        A record missing from the pass is read once more from its system; gone there
        too, it is deleted: its link is archived and reported, as for a deletion event.
        """
        writer = pipe.records
        if writer is None:
            return
        store: TwoWayState = pipe.store  # type: ignore[assignment]
        for obj in self.objects:
            for link in store.links_of_pair(self.pair, obj):
                key = link.a_key if self.this == self.a else link.b_key
                if key in seen:
                    continue
                ident = key.rsplit(":", 1)[-1]
                if self.this_target.read(obj, ident) is not None:
                    continue
                outcome = writer.write(key, "deleted", Deleted(id=ident, object=obj), pipe.now())
                pipe.result.counts[outcome] += 1

    def linked_id(self, store: Pairs, key: str) -> str | None:
        """The id in the other system of the record `key` (this side), if linked."""
        link = store.link_of(self.pair, key)
        if link is None or link.status != "active":
            return None
        return link.other(key).rsplit(":", 1)[-1]

    # ------------------------------------------------------------------ the sync
    def sync(
        self, writer: RecordWriter, key: str, version: str, value: Canonical, now: datetime
    ) -> str:
        pipe = writer.pipe
        store: TwoWayState = pipe.store  # type: ignore[assignment]
        obj = value.object if isinstance(value, Deleted) else _object(value)
        link = store.link_of(self.pair, key)
        if isinstance(value, Deleted):
            return self._deleted(writer, key, version, obj, link, self.this, now)
        if link is not None and link.status == "archived":
            return pipe._succeed(key, version, (), now)  # never recreate what was deleted
        run = PairRun(self, writer, store, key, version, obj, now)
        try:
            return run.go(link)
        except RetryableError as exc:
            return run.retry_later(str(exc))
        except RecordError as exc:
            return writer._failed(
                key,
                version,
                "target",
                str(exc),
                f"check the {obj} in both systems, then replay {key}",
                now,
            )

    def _deleted(
        self,
        writer: RecordWriter,
        key: str,
        version: str,
        obj: str,
        link: Any,
        where: str,
        now: datetime,
    ) -> str:
        pipe = writer.pipe
        if link is None or link.status != "active":
            return pipe._succeed(key, version, (), now)
        other_key = link.other(key) if key in (link.a_key, link.b_key) else link.b_key
        batch = pipe.batch
        batch.statements.append(archive_link(self.pair, link.a_key, now))
        message = (
            f"the {obj} was deleted in {where}; billbridge archived its link to "
            f"{other_key} and changed nothing there, nor in the books"
        )
        hint = (
            "if it should go from the other system too, remove it there by hand; then "
            "dismiss this row (`billbridge queue dismiss ID --reason …`)"
        )
        report(pipe, self.conflict_flow, link.a_key, key, version, "deleted", message, hint, now)
        batch.audit.append(
            AuditEvent(
                actor=pipe.actor,
                action="archived",
                record_key=link.a_key,
                run_id=pipe.run_id,
                at=now,
                diff={
                    "link": [link.b_key, None],
                    "deleted_in": [None, where],
                    "kept": [None, other_key],
                },
            )
        )
        return "conflict"


def _object(value: Canonical) -> str:
    from .records import OBJECT_KINDS  # noqa: PLC0415 - records imports this module

    return OBJECT_KINDS[type(value)]
