"""The audit log's hash chain: pure functions, no I/O, shared by both backends.

Why a chain: an auditor must be able to tell whether anyone edited or removed a row
after it was written, even someone who bypassed the database's append-only triggers.
Each row's hash covers its own canonical content and the previous row's hash, so
changing any row breaks every link from that row on, and `verify` names the first one.

Canonical content of a row: orjson dump (sorted keys) of
``{seq, at (ISO-8601 UTC, microseconds), actor, action, record_key, diff, run_id,
mapping_version}``; ``hash = sha256(prev_hash + canonical).hexdigest()``; the first row's
``prev_hash`` is `GENESIS` (64 zeros).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from .base import AuditRow, AuditVerdict

__all__ = [
    "GENESIS",
    "canonical",
    "canonical_text",
    "chain_hash",
    "diff_texts",
    "iso_utc",
    "normalize_diff",
    "row_hash",
    "verify_chain",
]

GENESIS = "0" * 64


def iso_utc(at: datetime) -> str:
    """The one text form of a time in the chain (and in SQLite): aware, UTC, microseconds."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: billbridge stores only zoned times")
    return _iso_utc(at)


@lru_cache(maxsize=4096)
def _iso_utc(at: datetime) -> str:
    # Cached: a batch stamps thousands of rows with the same few times, and isoformat
    # with timespec costs more than the hash lookup (aware datetimes hash by instant, and
    # every zone of one instant gives the same UTC text, so sharing an entry is right).
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _default(value: object) -> str:
    if isinstance(value, Decimal | datetime):
        return iso_utc(value) if isinstance(value, datetime) else str(value)
    raise TypeError(f"cannot store {type(value).__name__} in an audit diff")


def normalize_diff(diff: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """JSON-safe copy of a diff and its stored text.

    Decimals and datetimes become strings *before* hashing, so the hash computed at write
    time equals the one recomputed from the stored text at verify time.
    """
    text = _stored_text(diff)
    return orjson.loads(text), text.decode()


def _stored_text(diff: Mapping[str, Any]) -> bytes:
    """The JSON text a diff is stored as: keys sorted, Decimals and datetimes as strings."""
    return orjson.dumps(dict(diff), default=_default, option=orjson.OPT_SORT_KEYS)


def diff_texts(diff: Mapping[str, Any]) -> tuple[str, bytes]:
    """The stored text of a diff, and the JSON of it the chain hashes (`canonical_text`).

    The hash covers the diff as `verify` reads it back from the stored text, i.e. the
    text loaded and dumped again (`normalize_diff`). For plain values (see `_plain`) that
    round trip gives the text back byte for byte, so the write path skips it; anything
    else (a dataclass keeps its field order, say) still takes it.
    """
    text = _stored_text(diff)
    if type(diff) is dict and _plain(diff):
        return text.decode(), text
    return text.decode(), orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS)


_SCALARS = frozenset({str, int, bool, type(None), Decimal})


def _plain(value: Any) -> bool:
    """Whether orjson's text of `value` loads and dumps back to itself (sorted keys).

    Exact types only: subclasses, floats (text round trips are orjson's to keep) and
    every other type are reported as not plain, which only costs the round trip.
    """
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is list or kind is tuple:
        for item in value:  # noqa: SIM110 - loops: all() over a generator costs ~1.5x here
            if type(item) not in _SCALARS and not _plain(item):
                return False
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _SCALARS and not _plain(item)):
                return False
        return True
    return False


def canonical_text(
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    record_key: str,
    diff: bytes,
    run_id: int | None,
    mapping_version: str,
) -> bytes:
    """`canonical` from parts already in text: `at` from `iso_utc`, `diff` from `diff_texts`.

    The write path's form: the diff's JSON goes in verbatim (an orjson Fragment) instead of
    being serialized a second time; the bytes are the same as `canonical`'s.
    """
    return orjson.dumps(
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "record_key": record_key,
            "diff": orjson.Fragment(diff),
            "run_id": run_id,
            "mapping_version": mapping_version,
        },
        default=_default,
        option=orjson.OPT_SORT_KEYS,
    )


def canonical(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    record_key: str,
    diff: Mapping[str, Any],
    run_id: int | None,
    mapping_version: str,
) -> bytes:
    """The bytes a row's hash covers (see the module docstring)."""
    return orjson.dumps(
        {
            "seq": seq,
            "at": iso_utc(at),
            "actor": actor,
            "action": action,
            "record_key": record_key,
            "diff": dict(diff),
            "run_id": run_id,
            "mapping_version": mapping_version,
        },
        default=_default,
        option=orjson.OPT_SORT_KEYS,
    )


def chain_hash(prev_hash: str, content: bytes) -> str:
    """sha256 over the previous hash (hex text) followed by this row's canonical bytes."""
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


def row_hash(row: AuditRow) -> str:
    """What `row.hash` must be, given its content and its own `prev_hash`."""
    return chain_hash(
        row.prev_hash,
        canonical(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            record_key=row.record_key,
            diff=row.diff,
            run_id=row.run_id,
            mapping_version=row.mapping_version,
        ),
    )


def verify_chain(
    rows: Iterable[AuditRow], anchors: Mapping[int, Sequence[str]] | None = None
) -> AuditVerdict:
    """Check rows given in seq order; stops at the first bad one.

    A row is bad when its `prev_hash` is not the previous row's stored hash (a row was
    removed, inserted or re-linked) or its `hash` does not match its content (edited).
    Takes any iterable so a store can stream the table instead of loading it.

    `anchors` (seq → the head hashes recorded outside the store at that seq) catch what
    the chain alone cannot: its last rows deleted (an anchor names a seq the chain no
    longer reaches: `missing`), or the whole chain recomputed after an edit (a row's
    hash differs from its anchor: `rewritten`, between the last anchor it matched and
    that one).
    """
    anchors = anchors or {}
    top = max(anchors, default=None)
    expected_prev = GENESIS
    count = 0
    last = matched = 0
    for row in rows:
        count += 1
        if row.prev_hash != expected_prev or row.hash != row_hash(row):
            return AuditVerdict(ok=False, rows=count, first_bad=row.seq, anchored=top)
        witnessed = anchors.get(row.seq)
        if witnessed is not None:
            if any(h != row.hash for h in witnessed):
                return AuditVerdict(
                    ok=False, rows=count, first_bad=row.seq, anchored=top,
                    rewritten=(matched + 1, row.seq),
                )  # fmt: skip
            matched = row.seq
        expected_prev = row.hash
        last = row.seq
    if top is not None and top > last:
        return AuditVerdict(
            ok=False, rows=count, first_bad=last + 1, anchored=top, missing=(last + 1, top)
        )
    return AuditVerdict(ok=True, rows=count, first_bad=None, anchored=top)
