"""Opening a GnuCash book with piecash: create when missing, lock, and stale-lock repair.

Why our own lock handling: piecash refuses any book with a row in `gnclock` (GnuCash's
lock table) or ignores it altogether. billbridge writes its own lock row like GnuCash
does, so GnuCash warns a person who opens the book meanwhile; a row left by a billbridge
process that was killed (same host, process gone) is removed, so a crash never blocks
the next run; a lock held by anyone else makes the write retryable, never forced.
"""

from __future__ import annotations

import contextlib
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from billbridge.connectors.base import FatalError, RetryableError

__all__ = ["open_book", "quiet", "release_lock"]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the SQLAlchemy 2.0 deprecation notices and mapper overlap warnings that
    piecash 1.2 triggers on SQLAlchemy 1.4 (they are about piecash's code, not our use)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Deprecated API features detected")
        warnings.filterwarnings("ignore", message=r"relationship '.*' will copy column")
        yield


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_book(path: Path, *, currency: str | None) -> Any:
    """The book at `path` opened for writing and locked; created (with `currency`) if missing."""
    with quiet():
        import piecash  # noqa: PLC0415 - optional extra, imported only when used
        from sqlalchemy import text  # noqa: PLC0415

        if not path.exists():
            if currency is None:
                raise FatalError(
                    f"the GnuCash book {path} does not exist; set `currency:` (e.g. EUR) on its "
                    "connection in billbridge.yaml so billbridge can create it"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            piecash.create_book(sqlite_file=str(path), currency=currency).close()
        try:
            book = piecash.open_book(str(path), readonly=False, open_if_lock=True, do_backup=False)
        except (piecash.GnucashException, ValueError) as exc:
            raise FatalError(f"cannot open the GnuCash book {path}: {exc}") from exc
        session = book.session
        host = socket.gethostname()
        others = []
        for row_host, pid in session.execute(text("SELECT hostname, pid FROM gnclock")):
            if row_host == host and not _alive(int(pid)):
                session.execute(
                    text("DELETE FROM gnclock WHERE hostname = :h AND pid = :p"),
                    {"h": row_host, "p": pid},
                )
            else:
                others.append(f"{row_host} pid {pid}")
        if others:
            session.rollback()
            book.close()
            raise RetryableError(
                f"the GnuCash book {path} is open in GnuCash or another billbridge process "
                f"({', '.join(others)}); close it there and the write is retried"
            )
        session.execute(
            text("INSERT INTO gnclock (hostname, pid) VALUES (:h, :p)"),
            {"h": host, "p": os.getpid()},
        )
        session.commit()
        return book


def release_lock(book: Any) -> None:
    """Drop this process's lock row and close the book (unflushed changes are discarded)."""
    with quiet():
        from sqlalchemy import text  # noqa: PLC0415

        session = book.session
        with contextlib.suppress(Exception):
            session.rollback()
            session.execute(
                text("DELETE FROM gnclock WHERE hostname = :h AND pid = :p"),
                {"h": socket.gethostname(), "p": os.getpid()},
            )
            session.commit()
        with contextlib.suppress(Exception):
            book.close()
