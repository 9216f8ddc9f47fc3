"""GDPR erasure: a person's data out of everything billbridge keeps, the books intact.

Why field by field: the books must keep amounts, invoice numbers, dates and tax data
(legal retention), so records are not deleted: each source model says whose personal
data a record carries (`subjects`) and replaces it with that subject's pseudonym
(`redact`). What billbridge keeps as free text (queue messages, posting summaries,
notices, webhook payloads, write-back requests) loses the same names and e-mails, and
the connectors' own files (billbridge's Beancount file) get same-length stand-ins, so
every stored byte offset stays valid and `bean-check` still passes.

The subject is a record key (`crm:customer:<id>`); its two-way links bring the same
person's record on the other side. Their links are archived, their field bases and
conflict values dropped, their audit salts deleted (the hashes the audit log keeps of
their values tie to nothing any more, and the chain, which never held the values,
still verifies), and they join the suppression list: later syncs redact their records
on the way in (`suppress`) and never write them to another system again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from billbridge.connectors.base import RawRecord
from billbridge.connectors.source import SourceModel
from billbridge.domain import ERASED_DOMAIN
from billbridge.store.base import (
    Audit,
    AuditEvent,
    ErasurePlan,
    Pairs,
    Privacy,
    Records,
    WriteBacks,
    archive_link,
)

__all__ = ["EraseError", "EraseState", "Erasure", "erase_subject", "suppress"]

Scrubber = Callable[[Sequence[tuple[str, str]]], int]  # (text, subject) pairs -> replaced


class EraseState(Records, Privacy, Pairs, Audit, WriteBacks, Protocol):
    """Erasure reads records, links and write-backs, and rewrites them in one go."""


class EraseError(Exception):
    """The erasure cannot be done as asked (nothing was changed)."""


@dataclass(slots=True, kw_only=True)
class Erasure:
    subject: str
    subjects: list[str]
    records: int
    texts: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)  # what billbridge could not rewrite, said

    def as_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "subjects": self.subjects, "records": self.records,
                "texts": self.texts, "files": self.files, "kept": self.kept}  # fmt: skip


def _version(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=10).hexdigest()  # as the record path hashes


def _raw(data: Mapping[str, Any]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def _replaced(old: Any, new: Any) -> Iterator[tuple[str, Any]]:
    """(old text, new value) of every string the redaction changed."""
    if isinstance(old, str):
        if new != old:
            yield old, new
    elif isinstance(old, Mapping) and isinstance(new, Mapping):
        for key, value in old.items():
            yield from _replaced(value, new.get(key))
    elif isinstance(old, list) and isinstance(new, list):
        for a, b in zip(old, new, strict=False):
            yield from _replaced(a, b)


def _is_stand_in(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith("erased-") or ERASED_DOMAIN in value)


def _exact(value: Any, gone: Mapping[str, Any]) -> Any:
    """JSON with every string value equal to an erased one replaced (whole values only)."""
    if isinstance(value, str):
        return gone.get(value, value)
    if isinstance(value, Mapping):
        return {k: _exact(v, gone) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v, gone) for v in value]
    return value


def _expand(store: EraseState, subject: str) -> list[str]:
    found, todo = [subject], [subject]
    while todo:
        for link in store.links_for_key(todo.pop()):
            for key in (link.a_key, link.b_key):
                if key not in found:
                    found.append(key)
                    todo.append(key)
    return found


def erase_subject(
    store: EraseState,
    models: Mapping[str, SourceModel],
    subject: str,
    *,
    reason: str,
    actor: str,
    scrubbers: Mapping[str, Scrubber] = {},
    kept: Sequence[str] = (),
) -> Erasure:
    """Erase one data subject everywhere billbridge keeps data; see the module docstring."""
    if subject.count(":") < 2:
        raise EraseError(f"{subject!r} is not a record key (connection:object:id)")
    if not reason.strip():
        raise EraseError("say why (the reason goes to the audit log; name no person in it)")
    if store.get_record(subject) is None and not store.links_for_key(subject):
        raise EraseError(f"billbridge holds no record {subject}")
    keys = _expand(store, subject)
    plan = ErasurePlan()
    texts: dict[str, str] = {}  # personal text -> the subject it belongs to
    gone: dict[str, Any] = {}  # every erased string value -> its stand-in (None: dropped)
    for connection in sorted({k.split(":", 1)[0] for k in keys}):
        model = models.get(connection)
        if model is None or model.subjects is None or model.redact is None:
            raise EraseError(
                f"connection {connection!r} cannot erase field by field (its connector gives "
                "no `subjects`/`redact`): nothing was changed"
            )
        erased = frozenset(k.split(":", 1)[1] for k in keys if k.startswith(f"{connection}:"))
        for row in store.records_of_connection(connection):
            data = orjson.loads(row.snapshot)
            mine = [s for s in model.subjects(data) if s in erased]
            if not mine:
                continue
            new = model.redact(data, erased)
            raw = _raw(new)
            if raw != row.snapshot:
                plan.records.append((row.key, raw, _version(raw), row.version))
            for old, stand_in in _replaced(data, new):
                gone[old] = stand_in
                if _is_stand_in(stand_in) and len(old) >= 3:
                    texts[old] = f"{connection}:{mine[0]}"
        plan.inbox += _inbox(store, connection, model, erased, gone)
        plan.subjects += [(k, connection) for k in keys if k.startswith(f"{connection}:")]
    for key in keys:
        for wb in store.writebacks_for(key):
            request = _raw(_exact(orjson.loads(wb.request), gone)) if wb.request else b"{}"
            plan.writebacks.append((wb.id, request))
        plan.statements += [("erase_exception_texts", (key,)), ("erase_outcome_texts", (key,))]
    now = datetime.now(UTC)
    salts = set(keys)
    for key in keys:
        for link in store.links_for_key(key):
            salts.add(link.a_key)
            plan.statements += [
                archive_link(link.pair, link.a_key, now),
                ("bases_delete", (link.pair, link.a_key)),
                ("conflicts_erase", (now, link.pair, link.a_key)),
            ]
    plan.salts = sorted(salts)
    plan.replace = [(text, _stand_in(gone, text)) for text in sorted(texts, key=len, reverse=True)]
    files = {name: scrub(sorted(texts.items())) for name, scrub in scrubbers.items()}
    audit = AuditEvent(
        actor=actor, action="erased", record_key=subject,
        diff={"reason": [None, reason.strip()], "subjects": [None, keys],
              "records": [None, len(plan.records)],
              "files": [None, files]},
    )  # fmt: skip
    counts = store.apply_erasure(plan, audit)
    store.compact()
    return Erasure(subject=subject, subjects=keys, records=len(plan.records), texts=counts,
                   files=files, kept=list(kept))  # fmt: skip


def _stand_in(gone: Mapping[str, Any], text: str) -> str:
    value = gone.get(text)
    return value if isinstance(value, str) else "(erased)"


def _inbox(
    store: EraseState, connection: str, model: SourceModel, erased: frozenset[str],
    gone: Mapping[str, Any],
) -> list[tuple[str, str, bytes]]:  # fmt: skip
    """Stored webhook payloads about the subjects, with their values replaced."""
    if model.parse_event is None or model.subjects is None:
        return []
    changed = []
    for event_id, flow, payload in store.inbox_of_connection(connection):
        try:
            record = model.parse_event(payload)
        except (ValueError, KeyError, TypeError):
            continue
        if not any(s in erased for s in model.subjects(record.data)):
            continue
        new = _raw(_exact(orjson.loads(payload), gone))
        if new != payload:
            changed.append((event_id, flow, new))
    return changed


def suppress(raw: RawRecord, model_subjects: Any, redact: Any, erased: frozenset[str]) -> RawRecord:
    """A record of an erased subject as billbridge keeps it: redacted on the way in.

    The same bytes as the erasure left in the store, so an unchanged record stays
    `unchanged` and the person's data never comes back.
    """
    if raw.error or not any(s in erased for s in model_subjects(raw.data)):
        return raw
    data = redact(raw.data, erased)
    return raw._replace(data=data, raw=_raw(data))
