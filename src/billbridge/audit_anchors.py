"""Anchors: the audit chain's head, written outside the state store, so a cut or a
rewrite of the chain is found.

Why: the hash chain proves that no row was edited in place, but whoever can write the
database can also delete its last rows, or recompute every hash after an edit; the
chain alone still verifies. An anchor is one line — the chain's newest seq and hash,
and when it was seen — appended to a file beside the workspace (`audit.anchors` in
billbridge.yaml; `.billbridge/audit-anchors` by default) after every command, job or
request that added audit rows, and on demand (`billbridge audit anchor`). The same
head is printed in the daily report and sent with every alert, so copies also live in
mailboxes. `billbridge audit --verify` checks the chain against every anchor: a seq an
anchor saw that the chain no longer reaches is *missing*; a hash that differs from its
anchor means the chain was *rewritten*.

Anyone who can rewrite the database and the anchor file could forge both; with
BILLBRIDGE_ANCHOR_KEY set, each line carries an HMAC-SHA256 of its content under that
key, and `verify` refuses any line that is unsigned or whose HMAC does not match. Keep
the key where the database's users cannot read it.

Line format (JSON, one per line): `{"seq": 42, "hash": "<hex>", "at": "<ISO UTC>"}`,
plus `"mac": "<hex>"` when signed; the MAC covers `"{seq}:{hash}:{at}"`.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from billbridge.config import Workspace
from billbridge.store.base import AuditHead, AuditVerdict, Store, StoreError

__all__ = [
    "KEY_ENV",
    "Anchor",
    "AnchorCheck",
    "anchor_if_moved",
    "anchor_or_say",
    "anchor_path",
    "check_anchors",
    "read_anchors",
    "verify_with_anchors",
    "write_anchor",
]

KEY_ENV = "BILLBRIDGE_ANCHOR_KEY"
_TAIL = 4096  # bytes read from the end of the file to find its last line


@dataclass(frozen=True, slots=True, kw_only=True)
class Anchor:
    seq: int
    hash: str
    at: str  # ISO-8601 UTC
    mac: str = ""
    line: int = 0  # its line number in the file (1-based), when read back

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at, "signed": bool(self.mac)}


@dataclass(slots=True, kw_only=True)
class AnchorCheck:
    """The chain against its anchors: the verdict, the anchors trusted, what was wrong."""

    path: Path
    verdict: AuditVerdict
    trusted: list[Anchor] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unreadable, unsigned, forged lines
    unchecked_signatures: bool = False  # lines are signed, but no key to check them

    @property
    def ok(self) -> bool:
        return self.verdict.ok and not self.problems

    @property
    def latest(self) -> Anchor | None:
        """The newest trusted anchor (highest seq; the later line when two share one)."""
        return max(self.trusted, key=lambda a: (a.seq, a.line), default=None)

    def at_seq(self, seq: int) -> Anchor | None:
        return next((a for a in reversed(self.trusted) if a.seq == seq), None)

    def explain(self) -> list[str]:
        """What is wrong, in sentences a person can act on (empty when all is well)."""
        v, lines = self.verdict, list(self.problems)
        if v.missing is not None:
            first, last = v.missing
            seen = self.at_seq(last)
            lines.append(
                f"rows {first}-{last} are missing: the anchor of "
                f"{seen.at if seen else '?'} saw the chain reach seq {last}, the store ends "
                f"at seq {first - 1} (its last rows were deleted)"
            )
        elif v.rewritten is not None:
            first, last = v.rewritten
            seen = self.at_seq(last)
            lines.append(
                f"row {last} differs from its anchor of {seen.at if seen else '?'}: the "
                f"chain was rewritten (recomputed) in rows {first}-{last}, having matched "
                f"every anchor before seq {first}"
            )
        elif not v.ok:
            lines.append(
                f"row {v.first_bad} was changed, removed or re-linked after it was written"
            )
        return lines

    def as_json(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "ok": self.ok,
            "rows": v.rows,
            "first_bad": v.first_bad,
            "missing": list(v.missing) if v.missing else None,
            "rewritten": list(v.rewritten) if v.rewritten else None,
            "anchor": self.latest.as_json() if self.latest else None,
            "anchors": str(self.path),
            "problems": self.explain(),
            "unchecked_signatures": self.unchecked_signatures,
        }


def anchor_path(workspace: Workspace) -> Path:
    return workspace.root / workspace.audit.anchors


def _key() -> bytes | None:
    key = os.environ.get(KEY_ENV, "")
    return key.encode() if key else None


def _mac(key: bytes, seq: int, head: str, at: str) -> str:
    return hmac.new(key, f"{seq}:{head}:{at}".encode(), hashlib.sha256).hexdigest()


def _parse(text: bytes, number: int) -> Anchor | None:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    seq, head, at, mac = data.get("seq"), data.get("hash"), data.get("at"), data.get("mac", "")
    if type(seq) is not int or seq < 1 or not isinstance(head, str) or len(head) != 64:
        return None
    if not isinstance(at, str) or not isinstance(mac, str):
        return None
    return Anchor(seq=seq, hash=head, at=at, mac=mac, line=number)


def read_anchors(path: Path) -> tuple[list[Anchor], list[str]]:
    """Every anchor in the file, and a problem text for each line that is not one."""
    if not path.exists():
        return [], []
    anchors: list[Anchor] = []
    problems: list[str] = []
    with path.open("rb") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            anchor = _parse(text, number)
            if anchor is None:
                problems.append(f"{path}:{number}: not an anchor line")
            else:
                anchors.append(anchor)
    return anchors, problems


def check_anchors(
    anchors: list[Anchor], path: Path, key: bytes | None
) -> tuple[list[Anchor], list[str]]:
    """The anchors to trust, and why the others are not (with a key: unsigned, forged)."""
    if key is None:
        return anchors, []
    trusted: list[Anchor] = []
    problems: list[str] = []
    for anchor in anchors:
        if not anchor.mac:
            problems.append(
                f"{path}:{anchor.line}: anchor of seq {anchor.seq} is not signed, but "
                f"{KEY_ENV} is set: it was written before the key, or by someone without it"
            )
        elif not hmac.compare_digest(anchor.mac, _mac(key, anchor.seq, anchor.hash, anchor.at)):
            problems.append(
                f"{path}:{anchor.line}: anchor of seq {anchor.seq} has a signature that does "
                f"not match {KEY_ENV}: forged, or written with another key"
            )
        else:
            trusted.append(anchor)
    return trusted, problems


def _last_line(path: Path) -> Anchor | None:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL))
            lines = [line for line in handle.read().splitlines() if line.strip()]
    except FileNotFoundError:
        return None
    return _parse(lines[-1], 0) if lines else None


def write_anchor(path: Path, head: AuditHead, *, now: datetime | None = None) -> Anchor:
    """Append one anchor line (signed with BILLBRIDGE_ANCHOR_KEY when set), flushed to disk.

    One `write` of one short line to a file opened for appending, under an exclusive
    lock: two processes anchoring at once never interleave their lines.
    """
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    key = _key()
    anchor = Anchor(
        seq=head.seq, hash=head.hash, at=at, mac=_mac(key, head.seq, head.hash, at) if key else ""
    )
    data: dict[str, Any] = {"seq": anchor.seq, "hash": anchor.hash, "at": anchor.at}
    if anchor.mac:
        data["mac"] = anchor.mac
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, orjson.dumps(data) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return anchor


def anchor_if_moved(
    workspace: Workspace, store: Store, *, since: AuditHead | None = None
) -> Anchor | None:
    """Anchor the chain's head if it moved: past `since` when given (the head when a
    command began), else past the file's last anchor. None when nothing was written."""
    head = store.audit_head()
    if head is None or head == since:
        return None
    path = anchor_path(workspace)
    last = _last_line(path)
    if last is not None and (last.seq, last.hash) == (head.seq, head.hash):
        return None
    return write_anchor(path, head)


def anchor_or_say(
    workspace: Workspace, store: Store, *, since: AuditHead | None = None
) -> str | None:
    """`anchor_if_moved`, for the end of a command, job or request: a failure (the store
    gone, the file not writable) comes back as a sentence for the caller to show or log,
    because what the caller did is committed and must not be reported as failed."""
    try:
        anchor_if_moved(workspace, store, since=since)
    except (StoreError, OSError) as exc:
        return f"the audit chain's anchor was not written to {anchor_path(workspace)}: {exc}"
    return None


def _by_seq(anchors: list[Anchor]) -> Mapping[int, list[str]]:
    found: dict[int, list[str]] = {}
    for anchor in anchors:
        found.setdefault(anchor.seq, []).append(anchor.hash)
    return found


def verify_with_anchors(workspace: Workspace, store: Store) -> AnchorCheck:
    """Verify the chain against every trusted anchor in the workspace's anchor file."""
    path = anchor_path(workspace)
    anchors, problems = read_anchors(path)
    key = _key()
    trusted, refused = check_anchors(anchors, path, key)
    verdict = store.verify_audit(_by_seq(trusted))
    return AnchorCheck(
        path=path,
        verdict=verdict,
        trusted=trusted,
        problems=problems + refused,
        unchecked_signatures=key is None and any(a.mac for a in anchors),
    )
