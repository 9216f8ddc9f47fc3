"""The live Stripe source: a backfill per object type, then `/v1/events` from a cursor.

Why this shape: a backfill lists every object type page by page (`starting_after`,
100 a page, in the order Stripe lists them), and the cursor records how far each type
got, so an interrupted backfill resumes at the page it stood on instead of starting
over. The moment the backfill started is kept as the events floor: everything that
changed while it ran (or after) is read from `/v1/events` next, so nothing falls
between the two. For each changed object the *current* object is fetched, once, rather
than posting the event's copy: an event's copy can be older than what the backfill
already read, and a record must never move backwards.

Cursor (one string, the engine's): compact JSON
`{"v": 1, "floor": <unix s>, "done": [types…], "at": [type, last id], "ev": [created, [ids]]}`.
`ev` lists the event ids already read at that `created` second (events share seconds).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import orjson

from ..base import FatalError, RawRecord, RecordError, SourceFigures
from ._client import StripeApi

__all__ = ["OBJECT_TYPES", "StripeApiSource", "default_objects"]

OBJECT_TYPES: Final = (
    "customers",
    "balance_transactions",
    "invoices",
    "invoice_payments",
    "payment_intents",
    "charges",
    "refunds",
    "credit_notes",
    "payouts",
)
"""Backfill order: what a record looks up comes before it (a charge needs its balance
transaction, payment intent and, in API versions from 2025-03-31, the invoice payment
that links it to its invoice; a refund needs its charge, a credit note its invoice)."""

INVOICE_PAYMENTS_SINCE: Final = "2025-03-31"
"""`/v1/invoice_payments` exists from this API version on; older versions put the
invoice on the charge itself (`charge.invoice`)."""


def default_objects(api_version: str) -> tuple[str, ...]:
    """Every object type the pinned API version has."""
    if api_version[:10] >= INVOICE_PAYMENTS_SINCE:
        return OBJECT_TYPES
    return tuple(t for t in OBJECT_TYPES if t != "invoice_payments")


_PATHS: Final = {
    "customer": "customers",
    "balance_transaction": "balance_transactions",
    "invoice": "invoices",
    "invoice_payment": "invoice_payments",
    "payment_intent": "payment_intents",
    "charge": "charges",
    "refund": "refunds",
    "credit_note": "credit_notes",
    "payout": "payouts",
}
_WITH_LINES: Final = frozenset({"invoices", "credit_notes"})
_EXPAND: Final = {"charges": "balance_transaction"}
"""What a record's posting needs that Stripe gives as an id, fetched with the record itself:
a charge's fees and net are on its balance transaction, and a balance transaction is not
a record that ever arrives on its own after the backfill (no event names one)."""
_PAGE: Final = 100
_FLOOR_MARGIN: Final = 300  # seconds before the backfill's start: clocks differ
_EVENTS_KEPT: Final = 30 * 86400 - 3600  # Stripe keeps events 30 days; an hour to spare


class _Cursor:
    def __init__(self, raw: str | None) -> None:
        self.floor: int | None = None
        self.done: list[str] = []
        self.at: tuple[str, str] | None = None
        self.ev: tuple[int, list[str]] | None = None
        if not raw:
            return
        try:
            data = orjson.loads(raw)
            self.floor = data.get("floor")
            self.done = list(data.get("done", []))
            at = data.get("at")
            self.at = (at[0], at[1]) if at else None
            ev = data.get("ev")
            self.ev = (int(ev[0]), list(ev[1])) if ev else None
        except (orjson.JSONDecodeError, AttributeError, TypeError, IndexError, ValueError):
            raise FatalError(
                f"bad Stripe cursor {raw[:80]!r}; reset it with `billbridge sync --backfill`"
            ) from None

    def dump(self) -> str:
        data: dict[str, Any] = {"v": 1, "floor": self.floor, "done": self.done}
        if self.at:
            data["at"] = list(self.at)
        if self.ev:
            data["ev"] = [self.ev[0], self.ev[1]]
        return orjson.dumps(data).decode()


class StripeApiSource:
    """A SourceConnector over the Stripe API (a stream: the cursor moves on for good)."""

    snapshot = False

    def __init__(
        self,
        name: str,
        api: StripeApi,
        *,
        objects: Sequence[str] = OBJECT_TYPES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unknown = set(objects) - set(OBJECT_TYPES)
        if unknown:
            raise FatalError(f"unknown Stripe object types {sorted(unknown)}")
        self.name = name
        self.api = api
        self.objects = [t for t in OBJECT_TYPES if t in objects]
        self._clock = clock
        self.phase = ""  # what the progress bar shows: the type being read
        self.counts: dict[str, int] = {}

    def size(self) -> int | None:
        return None

    def progress_note(self) -> str:
        stats = self.api.stats
        note = self.phase
        if stats.rate_limit_waits:
            note += (
                f" · rate-limit waits {stats.rate_limit_waits} "
                f"({stats.rate_limit_seconds:.1f} s), {stats.throttled}x429"
            )
        return note

    def summary(self) -> dict[str, Any]:
        """What the run summary shows about the source: objects per type, waits, 429s."""
        return {"objects": dict(self.counts), **self.api.stats.as_dict()}

    def figures(self) -> SourceFigures:
        """Requests, rate-limit waits (paced and after 429s) and 429s so far (MeteredSource)."""
        stats = self.api.stats
        return SourceFigures(
            requests=stats.requests,
            rate_limit_waits=stats.rate_limit_waits,
            rate_limit_wait_seconds=stats.rate_limit_seconds,
            throttled=stats.throttled,
        )

    # ------------------------------------------------------------------ reading
    def read(self, cursor: str | None) -> Iterator[RawRecord]:
        state = _Cursor(cursor)
        if state.floor is None:
            state.floor = int(self._clock()) - _FLOOR_MARGIN
        for kind in self.objects:
            if kind in state.done:
                continue
            after = state.at[1] if state.at and state.at[0] == kind else None
            yield from self._backfill(kind, after, state)
            if kind not in state.done:  # an empty type: no record carried it
                state.done.append(kind)
            state.at = None
        yield from self._events(state)

    def _backfill(self, kind: str, after: str | None, state: _Cursor) -> Iterator[RawRecord]:
        self.phase = kind
        while True:
            params: dict[str, Any] = {"limit": _PAGE}
            if kind in _EXPAND:
                params["expand"] = [f"data.{_EXPAND[kind]}"]
            if after:
                params["starting_after"] = after
            page = self._list(f"/v1/{kind}", params)
            items = [i for i in _items(page, f"/v1/{kind}") if type(i.get("id")) is str]
            last_page = page.get("has_more") is not True
            for n, item in enumerate(items, 1):
                whole = self._whole_lines(kind, item) if kind in _WITH_LINES else item
                if last_page and n == len(items):
                    # The type's last record carries it as done: a run that ends here
                    # (no events yet) does not list this type once more next time.
                    state.done.append(kind)
                    state.at = None
                else:
                    state.at = (kind, item["id"])
                yield self._record(whole, state.dump())
                after = item["id"]
            if not items or last_page:
                return

    def _list(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """A list page; a 4xx on a list is about the connection, not one record: stop."""
        try:
            return self.api.get(path, params)
        except RecordError as exc:
            raise FatalError(
                f"{exc}; check `api_base`, `api_version` and `objects` of connection {self.name!r}"
            ) from None

    def _whole_lines(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        """An invoice or credit note with every line (the list holds the first 10)."""
        lines = item.get("lines")
        if not isinstance(lines, dict) or lines.get("has_more") is not True:
            return item
        path = f"/v1/{kind}/{item['id']}/lines"
        data = list(_items(lines, path))
        while True:
            page = self.api.get(path, {"limit": _PAGE, "starting_after": data[-1]["id"]})
            more = _items(page, path)
            data.extend(more)
            if not more or page.get("has_more") is not True:
                break
        return {**item, "lines": {**lines, "data": data, "has_more": False}}

    def _events(self, state: _Cursor) -> Iterator[RawRecord]:
        self.phase = "events"
        since, seen = state.ev if state.ev else (state.floor or 0, [])
        if self._clock() - since > _EVENTS_KEPT:
            raise FatalError(
                f"connection {self.name!r} last read Stripe events from "
                f"{since} (Unix time), more than 30 days ago; Stripe keeps events for 30 "
                "days, so changes in between cannot be read: run `billbridge sync --backfill`"
            )
        events = self._list_events(since)
        fetched: set[tuple[str, str]] = set()
        for event in events:
            created, ident = event["created"], event["id"]
            if created == since and ident in seen:
                continue
            before = state.dump()  # where a run resumes that stops inside this event
            if created != since:
                since, seen = created, []
            seen.append(ident)
            state.ev = (since, list(seen))
            obj = _event_object(event)
            if obj is None:
                continue
            kind = _PATHS.get(str(obj.get("object")))
            oid = obj.get("id")
            if kind is None or kind not in self.objects or type(oid) is not str:
                continue
            if (kind, oid) in fetched:
                continue
            fetched.add((kind, oid))
            current = self._current(kind, oid, obj, event)
            items = [current, *self._refunds_of(kind, current)]
            items = [i for i in items if _key(i) == (kind, oid) or _key(i) not in fetched]
            fetched.update(_key(i) for i in items)
            for n, item in enumerate(items, 1):
                # Only the event's last record moves the cursor past it: a run that stops
                # after a charge and before its refunds reads the event again next time.
                yield self._record(item, state.dump() if n == len(items) else before)

    def complete(self, record: RawRecord) -> list[RawRecord]:
        """A record handed over from elsewhere (a webhook event's copy) with what it needs.

        A charge gets its balance transaction (the copy names it by id) and is followed by
        its refunds (a `charge.refunded` event carries the charge, not the refund). A 4xx
        about the balance transaction leaves the charge as it is: it waits, and its hold
        times out into a readable row. Network errors and 5xx are raised after the
        client's retries (`RetryableError`), so the event stays pending.
        """
        if record.object != "charge" or record.error:
            return [record]
        item = dict(record.data)
        txn = item.get("balance_transaction")
        if type(txn) is str and txn:
            with contextlib.suppress(RecordError):
                item["balance_transaction"] = self.api.get(f"/v1/balance_transactions/{txn}")
        items = (item, *self._refunds_of("charges", item))
        return [self._record(i, record.position) for i in items]

    def _refunds_of(self, kind: str, charge: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A refunded charge's refunds, as Stripe has them now (every page)."""
        refunded = charge.get("amount_refunded")
        if kind != "charges" or "refunds" not in self.objects:
            return []
        if type(refunded) is not int or refunded <= 0 or type(charge.get("id")) is not str:
            return []
        refunds: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": _PAGE, "charge": charge["id"]}
        while True:
            page = self._list("/v1/refunds", params)
            items = [i for i in _items(page, "/v1/refunds") if type(i.get("id")) is str]
            refunds.extend(items)
            if not items or page.get("has_more") is not True:
                return refunds
            params = {**params, "starting_after": items[-1]["id"]}

    def _list_events(self, since: int) -> list[dict[str, Any]]:
        """Every event at or after `since`, oldest first (Stripe lists newest first)."""
        events: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": _PAGE, "created[gte]": since}
            if after:
                params["starting_after"] = after
            page = self._list("/v1/events", params)
            items = _items(page, "/v1/events")
            events.extend(e for e in items if type(e.get("created")) is int and e.get("id"))
            if not items or page.get("has_more") is not True:
                break
            after = items[-1]["id"]
        if len(events) > 1 and events[0]["created"] > events[-1]["created"]:
            events.reverse()
        events.sort(key=lambda e: e["created"])  # stable: ties keep the listed order
        return events

    def _current(
        self, kind: str, oid: str, copy: Mapping[str, Any], event: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The object as it is now; the event's copy when it is gone (deleted)."""
        if event.get("type", "").endswith(".deleted"):
            return dict(copy)
        params = {"expand": [_EXPAND[kind]]} if kind in _EXPAND else None
        try:
            item = self.api.get(f"/v1/{kind}/{oid}", params)
        except RecordError:
            return dict(copy)
        return self._whole_lines(kind, item) if kind in _WITH_LINES else item

    def _record(self, item: dict[str, Any], position: str) -> RawRecord:
        obj = str(item.get("object", ""))
        self.counts[obj] = self.counts.get(obj, 0) + 1
        raw = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
        return RawRecord(object=obj, id=str(item["id"]), data=item, raw=raw, position=position)


def _items(page: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    data = page.get("data")
    if type(data) is not list:
        raise FatalError(f"Stripe {path} answered without a `data` list (is api_base right?)")
    return [item for item in data if type(item) is dict]


def _key(item: Mapping[str, Any]) -> tuple[str, str]:
    return _PATHS.get(str(item.get("object")), ""), str(item.get("id"))


def _event_object(event: Mapping[str, Any]) -> dict[str, Any] | None:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else None
