"""The user's main ledger file: created by billbridge when missing, atomically.

Why atomically: the main file is the user's, and every run reads it to check that it
includes billbridge's two files. Written in place, a kill during its creation left an
empty file that every later run refused, until a person edited the ledger. Now the text
goes to a temporary file that is fsynced and then linked into place, so a kill leaves
either no main file (the next run creates it) or all of it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from billbridge.connectors.base import FatalError, RetryableError
from billbridge.engine.crashpoints import crashpoint

from ._render import escape

__all__ = ["ACCOUNTS_FILE", "ENTRIES_FILE", "main_text", "retryable"]

ENTRIES_FILE: Final = "billbridge.beancount"
ACCOUNTS_FILE: Final = "billbridge-accounts.beancount"


@contextlib.contextmanager
def retryable(action: str, path: Path) -> Iterator[None]:
    """Translate an OSError on billbridge's own files into a RetryableError naming the path."""
    try:
        yield
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise RetryableError(f"cannot {action} {path}: {reason}") from exc


def main_text(main: Path, title: str, *, create: bool) -> str:
    """The main ledger's text, created when missing and `create`; unreadable → FatalError.

    A main file that is empty, or a beginning of the one billbridge writes, is what an
    interrupted creation by an earlier version left behind (it wrote in place): it is
    created again, since it holds nothing of anyone's.
    """
    template = _template(title)
    try:
        text = main.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        if not create:
            raise FatalError(f"the main ledger {main} is missing") from exc
        return _create(main, title, template, replace=False)
    except OSError as exc:
        raise FatalError(f"cannot read the main ledger {main}: {exc.strerror}") from exc
    if create and text != template and template.startswith(text):
        return _create(main, title, template, replace=True)
    return text


def _template(title: str) -> str:
    return (
        "; Main Beancount ledger, created by billbridge.\n"
        "; billbridge never edits this file: it appends to the two files included below.\n"
        "; Add your own options, accounts and entries here.\n"
        f'option "title" "{escape(title)}"\n'
        "\n"
        f'include "{ACCOUNTS_FILE}"\n'
        f'include "{ENTRIES_FILE}"\n'
    )


def _create(main: Path, title: str, text: str, *, replace: bool) -> str:
    """Write `text` to a temporary file beside `main`, fsync it, link it into place (a link
    never overwrites a file someone created meanwhile; `replace` renames over the leftover
    of an interrupted creation instead), then fsync the folder."""
    folder = main.parent
    with retryable("create", main):
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{main.name}.", suffix=".new", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            crashpoint("beancount-create")
            if replace:
                os.replace(temp, main)
            else:
                try:
                    os.link(temp, main)
                except FileExistsError:  # someone created it meanwhile: read theirs
                    return main_text(main, title, create=False)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return text
