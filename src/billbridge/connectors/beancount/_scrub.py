"""Erase a person's name and e-mail from billbridge's own Beancount file, in place.

Why in place and the same length: billbridge never rewrites a file a person edits, but
`billbridge.beancount` is its own, and its narrations read "Invoice HB-0042 — Globex
Corp". GDPR erasure replaces those texts with a stand-in of exactly as many bytes, so
every byte offset stays where it was: the length the state store committed as the
target's position, and every entry after it. Only the strings of transaction header
lines (payee, narration) are touched; accounts, amounts, dates, links and metadata
stay, so `bean-check` passes and the books' totals do not move. The file is locked the
way the target locks it while it writes, overwritten with `pwrite`, and fsynced.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from billbridge.connectors.base import RetryableError
from billbridge.domain import same_length

from ._render import escape
from ._target import ENTRIES_FILE

__all__ = ["scrub_entries"]

_HEADER: Final = re.compile(rb"^\d{4}-\d{2}-\d{2} [*!] ")
_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"')


def scrub_entries(main: Path, texts: Sequence[tuple[str, str]]) -> int:
    """Replace each (personal text, subject key) in header strings; return how many."""
    path = Path(main).parent / ENTRIES_FILE
    if not path.exists() or not texts:
        return 0
    wanted = [(escape(text).encode(), subject) for text, subject in texts if text]
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetryableError(
                f"{path} is locked by a running sync; erase again after it"
            ) from None
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        changes: list[tuple[int, bytes]] = []
        offset = 0
        for line in data.splitlines(keepends=True):
            if _HEADER.match(line):
                for match in _STRING.finditer(line):
                    inside = match.group()
                    for old, subject in wanted:
                        start = inside.find(old)
                        while start >= 0:
                            stand_in = same_length(subject, old.decode()).encode()
                            changes.append((offset + match.start() + start, stand_in))
                            inside = inside[:start] + stand_in + inside[start + len(old) :]
                            start = inside.find(old, start + len(old))
            offset += len(line)
        for where, stand_in in changes:
            os.pwrite(fd, stand_in, where)
        if changes:
            os.fsync(fd)
        return len(changes)
    finally:
        os.close(fd)  # closing drops the lock
