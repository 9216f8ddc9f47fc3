"""Read billbridge's postings back from a Beancount ledger, as Beancount itself sees them.

Why Beancount's own parser and not the fast line scan of `_scan`: reconcile asks what the
books say now, after people may have edited, copied or retyped entries anywhere in the
ledger (not only in billbridge's own file), so the answer must come from the parser an
accountant's tools use. Why the parser and not the whole loader: the loader's booking and
plugins triple the time, and it writes a pickle cache beside the user's ledger; a
reconcile must not leave files in the books. Amounts are read as written (billbridge
always writes every amount), so a leg a person left for Beancount to interpolate shows
as a difference rather than being guessed; a leg at a price counts at its weight (the
converted amount billbridge posted). Entries without a `billbridge-idem` key are
the user's own and are not billbridge's to compare.

Why in pieces: the parser builds every entry of a file before returning, which for a
ledger of a million entries is gigabytes. A file is cut into pieces of a few MB, each
ending before a dated directive at the start of a line that follows a blank line and
stands outside any string, so no entry is cut; each piece is parsed on its own, with
the file's name and the piece's first line number (refs stay `file:line`), after the
`option` and active `pushmeta` lines read so far (they change how what follows parses).
Postings come in the order of the files (the main file, then its includes) and of
their lines, which is the order a person reads them in.
"""

from __future__ import annotations

import glob
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount.core import data
from beancount.parser import parser

from billbridge.connectors.base import LedgerLeg, LedgerPosting

from ._lines import weight_of

__all__ = ["read_postings"]


_PIECE = 1 << 20  # bytes of ledger text parsed at once
_DATED = re.compile(rb"^\d{4}-\d{2}-\d{2}[ \t]")
_STATE = re.compile(rb"^(option|pushmeta|popmeta)[ \t]")
_META_KEY = re.compile(rb"^(?:pushmeta|popmeta)[ \t]+([^:\s]+)")


def _in_string(line: bytes, open_string: bool) -> bool:
    """Whether a string is still open after `line` (a `;` outside strings ends the line)."""
    if b'"' not in line:
        return open_string
    if b";" not in line and b"\\" not in line:
        return open_string != (line.count(b'"') % 2 == 1)
    i, inside = 0, open_string
    while i < len(line):
        char = line[i]
        if inside and char == 0x5C:  # a backslash escapes the next character
            i += 2
            continue
        if char == 0x22:
            inside = not inside
        elif char == 0x3B and not inside:
            break
        i += 1
    return inside


def _pieces(path: Path) -> Iterator[tuple[bytes, int]]:
    """(text, line number of its first line) of each piece of the file, in order.

    The text starts with the `option` lines and the active `pushmeta` lines read before
    it, so the line number given is that of the first line minus their count.
    """
    options: list[bytes] = []
    pushed: dict[bytes, list[bytes]] = {}
    lines: list[bytes] = []
    size, first, number, open_string, blank = 0, 1, 0, False, True
    with path.open("rb") as handle:
        for line in handle:
            number += 1
            if size >= _PIECE and blank and not open_string and _DATED.match(line):
                prelude = options + [v for values in pushed.values() for v in values]
                yield b"".join(prelude + lines), first - len(prelude)
                _follow(lines, options, pushed)
                lines, size, first = [], 0, number
            lines.append(line)
            size += len(line)
            open_string = _in_string(line, open_string)
            blank = not open_string and not line.strip()
    if lines:
        prelude = options + [v for values in pushed.values() for v in values]
        yield b"".join(prelude + lines), first - len(prelude)


def _follow(lines: list[bytes], options: list[bytes], pushed: dict[bytes, list[bytes]]) -> None:
    """Carry a piece's `option` lines and `pushmeta`/`popmeta` state to the next piece."""
    for line in lines:
        if not _STATE.match(line):
            continue
        if line.startswith(b"option"):
            options.append(line if line.endswith(b"\n") else line + b"\n")
            continue
        key = _META_KEY.match(line)
        if key is None:
            continue
        if line.startswith(b"pushmeta"):
            pushed.setdefault(key.group(1), []).append(
                line if line.endswith(b"\n") else line + b"\n"
            )
        elif pushed.get(key.group(1)):
            pushed[key.group(1)].pop()


def _parse_all(main: Path) -> Iterator[Any]:
    """Entries of `main` and of every file it includes (recursively, each file once),
    each file read in pieces (see the module's docstring), in the order of its lines."""
    seen: set[Path] = set()
    todo = [main.resolve()]
    while todo:
        path = todo.pop(0)
        if path in seen or not path.exists():
            continue  # a missing include is bean-check's error to report, not reconcile's
        seen.add(path)
        includes: list[str] = []
        for text, firstline in _pieces(path):
            entries, _errors, options = parser.parse_file(
                io.BytesIO(text), report_filename=str(path), report_firstline=firstline
            )
            entries.sort(key=lambda entry: entry.meta.get("lineno", 0))
            yield from entries
            includes.extend(p for p in options.get("include", []) if p not in includes)
        for pattern in includes:
            found = [Path(p) for p in sorted(glob.glob(str(path.parent / pattern)))]
            todo.extend(p.resolve() for p in found)


def _leg(posting: data.Posting) -> LedgerLeg:
    """A leg at what it weighs: a converted leg (`119.00 USD @@ 107.10 EUR`) counts in the
    functional currency, as billbridge posted it and as GnuCash and the SQL GL hold it."""
    price = posting.price
    if price is not None and isinstance(price.number, Decimal):
        currency, amount = weight_of(posting)
        return LedgerLeg(account=posting.account, amount=amount, currency=currency)
    units = posting.units
    assert units is not None  # read_postings keeps only legs with a number
    assert isinstance(units.number, Decimal)
    return LedgerLeg(account=posting.account, amount=units.number, currency=units.currency)


def read_postings(main: Path) -> Iterator[LedgerPosting]:
    """Every transaction carrying `billbridge-idem`, duplicates included."""
    for entry in _parse_all(main):
        if not isinstance(entry, data.Transaction) or "billbridge-idem" not in entry.meta:
            continue
        legs = tuple(
            _leg(p)
            for p in entry.postings
            if p.units is not None and isinstance(p.units.number, Decimal)
        )
        filename = Path(str(entry.meta.get("filename", main))).name
        yield LedgerPosting(
            idempotency_key=str(entry.meta["billbridge-idem"]),
            record_key=str(entry.meta.get("billbridge-key", "")),
            ref=f"{filename}:{entry.meta.get('lineno', 0)}",
            date=entry.date,
            links=tuple(sorted(entry.links or ())),
            legs=legs,
        )
