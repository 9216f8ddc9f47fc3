"""File helpers shared by the append-only file targets (Beancount, CSV exports)."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

__all__ = ["append_whole"]


def append_whole(fd: int, data: bytes, before: int, path: Path) -> None:
    """One os.write on an O_APPEND descriptor; on failure or a short write, cut the file
    back to `before`, so a reader never finds half a block that no commit recorded."""
    try:
        written = os.write(fd, data)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, before)
        raise
    if written != len(data):
        with contextlib.suppress(OSError):
            os.ftruncate(fd, before)
        raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)", path)
