"""What trace adds for records that travel through several systems (issue 16).

Why: an invoice billed by Stripe for a deal won in a CRM passed through the CRM (the
deal), Stripe (its subscription, the invoice), the books (its postings) and back to the
CRM (its status). The invoice's own record knows none of that by name, but its data
names the objects billbridge wrote (`sub_…`, `cus_…`): the records whose writes made
them are its *origins*, found by the ids without reading any system's fields.

`systems` lists every system the timeline passed, in order of first appearance;
`human_handoffs` counts the times a person had to act (a failure or conflict left in the
queue, a replay, retry, dismissal, approval or resolution): zero on the happy path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import orjson

from billbridge.store.base import Pairs, Records

__all__ = ["HUMAN_ACTIONS", "LinksState", "human_handoffs", "origins", "systems"]

HUMAN_ACTIONS = frozenset(
    {"failed", "conflict", "dismissed", "replayed", "retried", "resolved", "approved",
     "rejected", "hold-timed-out"}
)  # fmt: skip


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class LinksState(Records, Pairs, Protocol):
    """The roles `origins` reads."""


def origins(store: LinksState, key: str) -> set[str]:
    """Record keys whose writes made an object the record `key` names (transitively once)."""
    row = store.get_record(key)
    if row is None:
        return set()
    ids = sorted({s for s in _strings(orjson.loads(row.snapshot)) if 3 < len(s) < 200})
    found = {p.record_key for p in store.postings_writing(ids) if p.record_key != key}
    for origin in list(found):  # the deal behind the subscription names its account
        origin_row = store.get_record(origin)
        if origin_row is not None:
            more = sorted({s for s in _strings(orjson.loads(origin_row.snapshot))
                           if 3 < len(s) < 200})  # fmt: skip
            found |= {p.record_key for p in store.postings_writing(more)} - {key}
    return found


def systems(events: Iterable[Mapping[str, Any]]) -> list[str]:
    seen: list[str] = []
    for event in events:
        system = event.get("system")
        if system and system != "billbridge" and system not in seen:
            seen.append(str(system))
    return seen


def human_handoffs(events: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for e in events if e.get("event") in HUMAN_ACTIONS)
