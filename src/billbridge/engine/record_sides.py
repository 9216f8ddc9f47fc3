"""The writes of a record flow that are not a plain create-or-update of one record.

Kept beside `records.py` (the record writer itself) so each stays readable: the update
of either side of a two-way pair (engine/twoway.py), read back and recorded like any
write, and the report of a record deleted at its source (never cascaded).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from billbridge.connectors.base import RecordError
from billbridge.connectors.records import Held, RecordTarget
from billbridge.domain import Deleted
from billbridge.store.base import AuditEvent, PostingRow

from .crashpoints import crashpoint

if TYPE_CHECKING:
    from .pipeline import RecordPipeline

__all__ = ["SideWrites"]


class SideWrites:
    """Mixed into `RecordWriter`: `pipe`, `target` and `_last` are the writer's."""

    if TYPE_CHECKING:
        pipe: RecordPipeline
        target: RecordTarget

        def _last(self, key: str) -> tuple[str, str, int] | None: ...

    def update_side(
        self,
        target: RecordTarget,
        obj: str,
        ident: str,
        our_key: str,
        asked: Mapping[str, Any],
        facet: str,
        key: str,
        version: str,
        now: datetime,
        *,
        audit: Mapping[str, Any],
    ) -> tuple[str, Held]:
        """One update of a two-way side (either system), read back and recorded.

        Raises `RetryableError` (the pair tries the record again later) or `RecordError`
        (the system refused it, or did not keep what was written).
        """
        pipe = self.pipe
        from .records import fields_digest  # noqa: PLC0415 - records imports this module

        digest = fields_digest(asked)
        count = len([r for r in pipe.store.postings_for(key, flow=pipe.flow.name)
                     if r.facet == facet]) + 1  # fmt: skip
        idem = f"{pipe.flow.name}|{key}|{facet}-{count}@{digest}"
        held = target.update(obj, ident, our_key, asked, idempotency_key=idem)
        crashpoint("after-write")
        back = target.read(obj, held.id) or held
        differ = target.differences(asked, back.fields)
        if differ:
            raise RecordError(
                f"{obj} {held.id} in {target.name} does not hold the written value of "
                f"{', '.join(differ)} when read back"
            )
        pipe.batch.postings.append(
            PostingRow(
                flow=pipe.flow.name, record_key=key, facet=facet, idempotency_key=idem,
                version=version, entry_hash=digest, target=target.name, target_ref=held.id,
                run_id=pipe.run_id, posted_at=now,
                summary=f"updated {obj} {held.id} in {target.name}",
            )
        )  # fmt: skip
        pipe.batch.audit.append(
            AuditEvent(
                actor=pipe.actor, action="reverted" if facet == "revert" else "written",
                record_key=key, run_id=pipe.run_id, mapping_version=pipe.flow.mapping.version,
                at=now, diff={"how": [None, "updated"],
                              "object": [None, f"{target.name}:{obj}:{held.id}"],
                              **{k: [None, v] for k, v in audit.items()}},
            )
        )  # fmt: skip
        pipe.result.posted += 1
        return "updated", back

    def _deleted(self, key: str, version: str, value: Deleted, now: datetime) -> str:
        """A record deleted in its source: what billbridge wrote for it stays (reported)."""
        pipe = self.pipe
        last = self._last(key)
        if last is None:
            return pipe._succeed(key, version, (), now)
        message = (
            f"the {value.object} was deleted in {pipe.connection}; billbridge keeps the "
            f"{value.object} {last[1]} it wrote to {self.target.name} and deletes nothing"
        )
        hint = "remove it there by hand if it should go too; then dismiss this row"
        pipe.batch.audit.append(
            AuditEvent(actor=pipe.actor, action="archived", record_key=key, run_id=pipe.run_id,
                       at=now, diff={"kept": [None, f"{self.target.name}:{last[1]}"]})
        )  # fmt: skip
        pipe._record_problem(key, version, "conflict", message, "deleted", hint, now,
                             action="deleted-in-source")  # fmt: skip
        return "conflict"
