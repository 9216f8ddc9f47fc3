"""The pipeline's look-ups: stored versions, posted facets and related records, cached.

Why a layer of its own: a record looks up what it relates to (its invoice, a charge's
payment intent) and what was posted for it; with a million records those look-ups
must cost one query per batch, not one per record. The caches are bounded (related
records sit close together in an export), and a batch's pending postings are seen
before they are committed, so an invoice earlier in a batch counts as posted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from billbridge.connectors.base import RawRecord
from billbridge.store.base import RecordRow, SyncState

from .entries import record_key, record_version
from .model import FlowRuntime

__all__ = ["Lookups"]

_RECENT = 20_000  # parsed records kept for look-ups (related records sit close together)


class Lookups:
    """Look-ups of one flow's pipeline (the state lives in `RecordPipeline.__init__`)."""

    flow: FlowRuntime
    store: SyncState
    connection: str
    _pending_facets: dict[str, dict[str, str]]  # record -> facet -> entry hash
    _recent: OrderedDict[str, Mapping[str, Any]]
    _missing: set[str]
    _facets: OrderedDict[str, dict[str, str]]
    _prior: dict[str, RecordRow]
    _seen: dict[str, str]
    _erased: frozenset[str]

    def prefetch(
        self, keys: list[str], records: Sequence[RawRecord] = (), *, force: bool = False
    ) -> frozenset[int]:
        """Load the stored versions and postings of a batch's records, one query each.

        Also the records they will look up (`FlowRuntime.lookups`) and do not hold yet:
        one query for the batch, so that a look-up the store cannot answer (a charge's
        payment intent, absent from an export) costs no query of its own.

        Records this flow has seen at this very version are `unchanged` and go no further
        (unless `force`d), so only the others' rows, postings and look-ups are loaded: a
        second sync over an unchanged export reads one small index per batch. Returns
        their positions in `records`, for the run to count them without the path.
        """
        self._seen = self.store.flow_versions(self.flow.name, keys) if keys else {}
        unchanged: frozenset[int] = frozenset()
        if records and not force:
            unchanged = self._unchanged(keys, records)
            if unchanged:
                kept = [i for i in range(len(records)) if i not in unchanged]
                keys, records = [keys[i] for i in kept], [records[i] for i in kept]
        self._prior = self.store.get_records(keys) if keys else {}
        found = self.store.posted_facets(keys, flow=self.flow.name)
        for key in keys:
            self._cache_facets(key, found.get(key, {}))
        self._prefetch_lookups(records)
        return unchanged

    def _unchanged(self, keys: list[str], records: Sequence[RawRecord]) -> frozenset[int]:
        """Positions of the records whose version this flow has seen (as `_process` asks)."""
        seen = self._seen
        if not seen or (self._erased and self.flow.redact is not None):
            return frozenset()  # an erased subject's version is its redacted bytes' hash
        return frozenset(
            i
            for i, (key, raw) in enumerate(zip(keys, records, strict=True))
            if not raw.error and seen.get(key) == record_version(raw.raw)
        )

    def _prefetch_lookups(self, records: Sequence[RawRecord]) -> None:
        lookups = self.flow.lookups
        if not lookups:
            return
        wanted: dict[str, None] = {}
        for raw in records:
            make = lookups.get(raw.object)
            if make is None or raw.error:
                continue
            for obj_id in make(raw.data):
                key = f"{self.connection}:{obj_id}"
                if key not in self._recent and key not in self._missing:
                    wanted[key] = None
        if not wanted:
            return
        rows = self.store.get_records(list(wanted))
        for key in wanted:
            row = rows.get(key)
            if row is None:
                self._note_missing(key)
            else:
                self._remember(key, orjson.loads(row.snapshot))

    def _cache_facets(self, key: str, facets: dict[str, str]) -> None:
        self._facets[key] = facets
        self._facets.move_to_end(key)
        if len(self._facets) > _RECENT:
            self._facets.popitem(last=False)

    def resolve(self, obj: str, ident: str) -> Mapping[str, Any] | None:
        key = record_key(self.connection, obj, ident)
        cached = self._recent.get(key)
        if cached is not None:
            return cached
        if key in self._missing:
            return None
        row = self.store.get_record(key)
        if row is None:
            self._note_missing(key)
            return None
        data: dict[str, Any] = orjson.loads(row.snapshot)
        self._remember(key, data)
        return data

    def _note_missing(self, key: str) -> None:
        """Remember that the store has no `key` (bounded: forgotten all at once when full)."""
        if len(self._missing) > _RECENT:
            self._missing.clear()
        self._missing.add(key)

    def _remember(self, key: str, data: Mapping[str, Any]) -> None:
        self._missing.discard(key)
        self._recent[key] = data
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def _invoice_number(self, invoice_id: str) -> str:
        data = self.resolve("invoice", invoice_id)
        return self.flow.described(data).number if data else ""

    def _posted_facets(self, key: str) -> dict[str, str]:
        """Facets posted for `key`: committed (cached, else one query) plus this batch's."""
        committed = self._facets.get(key)
        if committed is None:
            committed = self.store.posted_facets([key], flow=self.flow.name).get(key, {})
            self._cache_facets(key, committed)
        pending = self._pending_facets.get(key)
        return {**committed, **pending} if pending else committed
