"""Trace: one invoice from its trigger to its ledger postings, as one timeline.

Why: "where is invoice HB-0042 and who touched it?" is the question behind most
billing escalations. The answer gathers what the store already holds about the
invoice and every record linked to it (payments, refunds, credit notes): each version
seen, each attempt and failure, each replay and approval, each posting, with times and
actors, and counts the handoffs (each time the invoice passed from one system or
person to another).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import orjson

from billbridge.domain import format_amount
from billbridge.store.base import Audit, Pairs, PostingRow, Queue, Records

from .trace_links import human_handoffs, origins, systems
from .words import RecordNamer, change_text


class TraceState(Records, Queue, Audit, Pairs, Protocol):
    """Trace reads records and postings, the queue's rows and the audit log."""


__all__ = ["Trace", "posting_lines", "resolve_ref", "trace", "where"]

_FILE_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    record: str
    events: list[dict[str, Any]]
    postings: list[dict[str, Any]]
    handoffs: int
    words: dict[str, str] = field(default_factory=dict)  # record key -> its words
    systems: tuple[str, ...] = ()  # every system the timeline passed, in order
    human_handoffs: int = 0  # times a person had to act (engine/trace_links.py)

    def as_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "words": self.words.get(self.record, ""),
            "events": self.events,
            "postings": self.postings,
            "handoffs": self.handoffs,
            "systems": list(self.systems),
            "human_handoffs": self.human_handoffs,
        }


def where(ref: str) -> str:
    """A target's ref in words: `billbridge.beancount:12` → `billbridge.beancount, line 12`."""
    found = _FILE_LINE.match(ref)
    return f"{found['file']}, line {found['line']}" if found else ref


def posting_lines(posting: PostingRow) -> list[dict[str, str]]:
    """The entry's lines as posted: account, amount (debit positive), currency, and the
    amount as finance reads it. Empty for a posting recorded before billbridge kept them."""
    lines = []
    for text in posting.lines.splitlines():
        account, amount, currency = [*text.rsplit(" ", 2), "", ""][:3]
        try:
            shown = format_amount(Decimal(amount), currency)
        except InvalidOperation:
            shown = f"{amount} {currency}"
        lines.append({"account": account, "amount": amount, "currency": currency,
                      "text": shown})  # fmt: skip
    return lines


def resolve_ref(store: TraceState, ref: str) -> str | None:
    """A record key, a source id (in_…) or an invoice number (HB-0042) → the record key."""
    if ref.count(":") >= 2 and store.get_record(ref) is not None:
        return ref
    rows = store.find_records(source_id=ref)
    for row in rows:
        if row.object != "invoice_number":
            return row.key
    for row in rows:  # an invoice-number alias holds the invoice itself as its snapshot
        invoice_id = orjson.loads(row.snapshot).get("id")
        if invoice_id:
            return f"{row.connection}:invoice:{invoice_id}"
    return None


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def trace(store: TraceState, key: str, namer: RecordNamer | None = None) -> Trace:
    """Gather the timeline of `key` and of the records linked to it, each named in words."""
    source_id = key.rsplit(":", 1)[-1]
    related = {key}
    for posting in store.postings_linked(source_id):
        related.add(posting.record_key)
    for held in store.held_waiting_on([key]):
        related.add(held.record_key)
    related |= origins(store, key)
    events: list[dict[str, Any]] = []
    postings: list[dict[str, Any]] = []
    for record in sorted(related):
        row = store.get_record(record)
        if row is not None:
            events.append(
                {
                    "at": _when(row.seen_at),
                    "record": record,
                    "system": row.connection,
                    "actor": row.connection,
                    "event": "seen",
                    "detail": f"version {row.version}",
                }
            )
        events.extend(
            {
                "at": _when(o.at),
                "record": record,
                "system": "billbridge",
                "actor": "billbridge",
                "event": o.outcome,
                "run": o.run_id,
                "detail": o.error or (f"version {o.version}" if o.version else ""),
            }
            for o in store.outcomes_for(record)
        )
        for audit in store.audit_rows(record_key=record):
            if audit.action in {"posted", "failed", "held", "conflict"}:
                continue  # already shown as an outcome of its run
            events.append(
                {
                    "at": _when(audit.at),
                    "record": record,
                    "system": "billbridge",
                    "actor": audit.actor,
                    "event": audit.action,
                    "run": audit.run_id,
                    "detail": change_text(audit.diff),
                }
            )
        for posting in store.postings_for(record):
            item = {
                "at": _when(posting.posted_at),
                "record": record,
                "flow": posting.flow,
                "facet": posting.facet,
                "target": posting.target,
                "ref": posting.target_ref,
                "where": where(posting.target_ref),
                "idempotency_key": posting.idempotency_key,
                "summary": posting.summary,
                "lines": posting_lines(posting),
            }
            postings.append(item)
            events.append(
                {
                    "at": item["at"],
                    "record": record,
                    "system": posting.target,
                    "actor": "billbridge",
                    "event": "posting",
                    "run": posting.run_id,
                    "detail": f"{posting.summary} → {where(posting.target_ref)}",
                }
            )
    events.sort(key=lambda e: (e["at"] or "", e["record"]))
    postings.sort(key=lambda p: p["at"] or "")
    namer = namer or RecordNamer(store)
    named = {k: w.text() for k, w in namer.words(sorted(related)).items()}
    for item in (*events, *postings):
        item["words"] = named.get(str(item["record"]), "")
    return Trace(
        record=key, events=events, postings=postings, handoffs=_handoffs(events), words=named,
        systems=tuple(systems(events)), human_handoffs=human_handoffs(events),
    )  # fmt: skip


def _handoffs(events: list[dict[str, Any]]) -> int:
    """Each change of hands along the timeline: source → billbridge → ledger → a person."""
    count = 0
    previous: str | None = None
    for event in events:
        holder = event["system"] if event["actor"] in {"billbridge", "system"} else event["actor"]
        if event["event"] == "seen":
            holder = event["system"]
        if previous is not None and holder != previous:
            count += 1
        previous = holder
    return count
