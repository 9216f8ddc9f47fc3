"""Moving a processed inbox file aside, with a report of what became of each record.

Why a report beside the file: the person who dropped a file into the inbox looks in
`done/` or `failed/`, not in the state store. `<archived name>.report.json` says, per
record (with its lines), whether it posted and where, or why it failed and how to fix
it, as the state store says after the run committed.

Order: the report is written first (to a temporary name, then renamed), the file is
moved second, each an atomic rename, so a crash never leaves a moved file without its
report (at worst a report whose file is still in the inbox, written again next run).
Archived names start with the UTC time of the move, so name order is processing order.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from billbridge.connectors.base import RecordState

__all__ = ["REPORT_SUFFIX", "report_of", "settle_file"]

REPORT_SUFFIX = ".report.json"
_FAILED = frozenset({"failed", "conflict"})


def report_of(
    name: str,
    keys: Sequence[tuple[str, list[int]]],
    states: Mapping[str, RecordState],
    *,
    connection: str,
    at: datetime,
) -> dict[str, Any]:
    """The report of one file: its status (done or failed), counts and every record."""
    records = []
    for key, lines in keys:
        state = states.get(key, RecordState(outcome="unread"))
        entry: dict[str, Any] = {"record": key, "lines": lines, "outcome": state.outcome}
        if state.postings:
            entry["postings"] = [{"facet": f, "at": ref} for f, ref in state.postings]
        for name_, value in (
            ("error", state.error),
            ("field", state.field),
            ("hint", state.hint),
            ("waiting_on", state.waiting_on),
        ):
            if value:
                entry[name_] = value  # noqa: PERF403 - four named fields, in this order
        records.append(entry)
    counts = Counter(r["outcome"] for r in records)
    failed = any(r["outcome"] in _FAILED for r in records)
    return {
        "file": name,
        "connection": connection,
        "processed_at": at.isoformat(timespec="seconds"),
        "status": "failed" if failed else "done",
        "counts": dict(sorted(counts.items())),
        "records": records,
    }


def _free(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 2
    while target.exists() or (target.parent / (target.name + REPORT_SUFFIX)).exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def settle_file(
    path: Path,
    keys: Sequence[tuple[str, list[int]]],
    states: Mapping[str, RecordState],
    *,
    connection: str,
    now: datetime | None = None,
) -> Path:
    """Write the report into done/ or failed/ and move the file beside it; return where."""
    at = now or datetime.now(UTC)
    report = report_of(path.name, keys, states, connection=connection, at=at)
    folder = path.parent / report["status"]
    folder.mkdir(exist_ok=True)
    target = _free(folder, f"{at.strftime('%Y%m%dT%H%M%S%fZ')}-{path.name}")
    report["archived_as"] = f"{folder.name}/{target.name}"
    sidecar = target.parent / (target.name + REPORT_SUFFIX)
    temporary = sidecar.with_name(f".{sidecar.name}.tmp")
    with temporary.open("wb") as handle:
        handle.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(sidecar)
    path.replace(target)
    _fsync_dir(folder)
    _fsync_dir(path.parent)
    return target
