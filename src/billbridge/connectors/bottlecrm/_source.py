"""The BottleCRM source: a snapshot of accounts, contacts, deals and invoices, every run.

Why a snapshot: the CRM has no "updated since" filter (`updated_at__gte` is silently
ignored, and accounts and deals carry no `updated_at` at all), so every run lists every
object and the engine tells a change by the content hash of its projection
(`_shapes.py`). A run that stops half-way resumes at the page it stood on: the cursor
is `<resource>:<offset>`. Webhooks make changes arrive sooner; a delivery the CRM never
sends again (it does not retry without its Celery beat) is caught by the next poll.

Invoices in a list are summaries (no lines, payments, custom fields or `po_number`), so
each invoice is read in full with one more request.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from billbridge.connectors.base import RawRecord, SourceFigures

from ._client import CrmApi
from ._shapes import KINDS, RESOURCE_OF, project, raw_bytes, tombstone

__all__ = ["BottleCrmSource"]

_ORDER: Final = ("accounts", "contacts", "deals", "invoices")
"""What a record resolves comes before it: an invoice names its account."""


class BottleCrmSource:
    """A `SourceConnector` (snapshot) and `CompletingSource` over one CRM organisation."""

    snapshot = True

    def __init__(self, name: str, api: CrmApi, *, objects: Sequence[str] = _ORDER) -> None:
        self.name = name
        self.api = api
        self.objects = tuple(o for o in _ORDER if o in objects)

    def read(self, cursor: str | None) -> Iterator[RawRecord]:
        start_kind, start = "", 0
        if cursor and ":" in cursor:
            start_kind, _, offset = cursor.partition(":")
            start = int(offset) if offset.isdigit() else 0
        skipping = bool(start_kind) and start_kind in self.objects
        try:
            for kind in self.objects:
                if skipping and kind != start_kind:
                    continue
                first = start if skipping else 0
                skipping = False
                yield from self._read_kind(kind, first)
        finally:
            self.api.close()

    def _read_kind(self, kind: str, first: int) -> Iterator[RawRecord]:
        obj = KINDS[kind]
        resource = RESOURCE_OF[obj]
        for _offset, items, following in self.api.pages(resource, start=first):
            position = f"{kind}:{following if following is not None else 'end'}"
            for listed in items:
                item = self._invoice(str(listed.get("id"))) if obj == "invoice" else listed
                if item is None:
                    continue  # deleted between the list and the read
                data = project(obj, item)
                yield RawRecord(
                    object=obj, id=str(data["id"]), data=data, raw=raw_bytes(data),
                    position=position,
                )  # fmt: skip

    def _invoice(self, ident: str) -> dict[str, object] | None:
        found = self.api.get_one(f"/api/invoices/{ident}/", what="read invoice")
        if not isinstance(found, dict):
            return None
        invoice = found.get("invoice")
        return invoice if isinstance(invoice, dict) else None

    def complete(self, record: RawRecord) -> list[RawRecord]:
        """The whole object a webhook's short copy names (or its tombstone if it is gone)."""
        obj = record.object
        resource = RESOURCE_OF.get(obj)
        if resource is None:
            return [record]
        if record.data.get("deleted") is True:
            data = tombstone(obj, record.id)
        else:
            found = self.api.get_one(f"/api/{resource}/{record.id}/", what=f"read {obj}")
            item = _detail(obj, found)
            data = tombstone(obj, record.id) if item is None else project(obj, item)
        return [RawRecord(object=obj, id=record.id, data=data, raw=raw_bytes(data), position="")]

    def figures(self) -> SourceFigures:
        return SourceFigures(requests=self.api.requests)

    def close(self) -> None:
        self.api.close()


def _detail(obj: str, found: object) -> dict[str, object] | None:
    """The object inside a detail answer (`account_obj`, `contact_obj`, …)."""
    if not isinstance(found, dict):
        return None
    key = {"customer": "account_obj", "contact": "contact_obj", "deal": "opportunity_obj",
           "invoice": "invoice"}[obj]  # fmt: skip
    inner = found.get(key)
    return inner if isinstance(inner, dict) else None
