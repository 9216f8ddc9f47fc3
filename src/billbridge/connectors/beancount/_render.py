"""Beancount text for journal entries, and the account-name rule.

Why hand-built strings and not `beancount.parser.printer`: rendering runs for every
posting (20,000 entries a second in the benchmark), and the printer builds beancount
data objects first. The format is small and fixed, and the integration tests load every
rendered form with the real beancount loader and `bean-check`, so the two cannot drift.

Every string is escaped so it stays on one line (`\\n` and `\\r` are escapes Beancount
reads back), which keeps the file line-oriented: recovery finds entries, idempotency
keys and block terminators with a line scan, and no narration can fake one of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Final

from billbridge.connectors.base import RecordError
from billbridge.domain import JournalEntry, Money, Posting, minor_units

__all__ = [
    "END_PREFIX",
    "IDEM_PREFIX",
    "ROOTS",
    "VERSION_PREFIX",
    "account_problem",
    "escape",
    "render_entries",
    "unescape",
]

ROOTS: Final = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
END_PREFIX: Final = "; billbridge-end "
IDEM_PREFIX: Final = '  billbridge-idem: "'
VERSION_PREFIX: Final = '  billbridge-version: "'

# Our own metadata keys; a mapping's `meta` may not reuse them (Beancount rejects a
# duplicate key, and recovery trusts `billbridge-idem` to be ours).
_RESERVED: Final = frozenset(
    {"billbridge-key", "billbridge-version", "billbridge-idem", "billbridge-entity"}
)
_META_KEY: Final = re.compile(r"[a-z][a-zA-Z0-9\-_]+")  # Beancount's KEY token
_LINK_OK: Final = re.compile(r"[A-Za-z0-9\-_/.]+")  # Beancount's LINK token
_LINK_DROP: Final = re.compile(r"[^A-Za-z0-9\-_/.]+")
_ASCII_REST: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_ASCII_FIRST: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

_ESCAPES: Final[dict[int, str]] = {
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    ord("\n"): "\\n",
    ord("\r"): "\\r",
}
# Other control characters have no meaning in a ledger string; a space keeps words apart.
_ESCAPES.update({c: " " for c in range(32) if c not in _ESCAPES and c != ord("\t")})
_ESCAPES[0x7F] = " "
_UNESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "b": "\b"}
_BACKSLASH: Final = re.compile(r"\\(.)", re.DOTALL)
_AMOUNT_COLUMN: Final = 38  # amounts end at column 40, after the two-space indent


def escape(text: str) -> str:
    """`text` as the inside of a Beancount string literal, on one line.

    Most strings need nothing: three C-level scans are ten times cheaper than
    `translate`, which rebuilds every string (eight per entry on the backfill path).
    `isprintable` is False for every character `_ESCAPES` changes but `"` and `\\`.
    """
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return text.translate(_ESCAPES)


def unescape(text: str) -> str:
    """Inverse of `escape` (and of Beancount's own string escapes)."""
    if "\\" not in text:
        return text
    return _BACKSLASH.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(1)), text)


def account_problem(name: str) -> str | None:
    """Why `name` is not a valid Beancount account, or None when it is.

    The rule is the intersection of Beancount's lexer and `beancount.core.account`:
    a root among the five standard types, then one or more components, each starting
    with an upper-case letter or a digit, then letters, digits or '-'. The mapping layer
    calls this before any write so a bad account is one queued record with a readable
    reason, not a ledger that fails `bean-check`.
    """
    if not name:
        return "the account name is empty"
    if any(ch.isspace() for ch in name):
        return f"account {name!r} contains a space; use '-' or CamelCase inside a component"
    parts = name.split(":")
    root = parts[0]
    if root not in ROOTS:
        return (
            f"account {name!r} starts with {root!r}; the first component must be one of "
            + ", ".join(ROOTS)
        )
    if len(parts) < 2:
        return f"account {name!r} needs at least one component after the root, like {root}:Bank"
    for part in parts[1:]:
        problem = _component_problem(name, part)
        if problem:
            return problem
    return None


def _component_problem(name: str, part: str) -> str | None:
    if not part:
        return f"account {name!r} has an empty component (two ':' in a row or a ':' at the end)"
    first = part[0]
    if first not in _ASCII_FIRST and (
        first.isascii() or unicodedata.category(first) not in {"Lu", "Nd"}
    ):
        return (
            f"component {part!r} of account {name!r} must start with an upper-case letter "
            "or a digit"
        )
    for ch in part[1:]:
        if ch in _ASCII_REST:
            continue
        category = "" if ch.isascii() else unicodedata.category(ch)
        if not (category.startswith("L") or category == "Nd"):
            return (
                f"component {part!r} of account {name!r} contains {ch!r}; only letters, "
                "digits and '-' are allowed"
            )
    return None


@lru_cache(maxsize=65536)
def _checked_account(name: str) -> str | None:
    return account_problem(name)


@lru_cache(maxsize=65536)
def _link(link: str) -> str:
    return link if _LINK_OK.fullmatch(link) else _LINK_DROP.sub("", link)


@lru_cache(maxsize=1024)
def _meta_key_problem(key: str) -> str | None:
    if key in _RESERVED:
        return f"metadata key {key!r} is reserved for billbridge; rename it in the mapping"
    if not _META_KEY.fullmatch(key):
        return (
            f"metadata key {key!r} is not valid in Beancount: it must start with a lower-case "
            "letter, be at least two characters, and use only letters, digits, '-' and '_'"
        )
    return None


def render_entries(entries: Sequence[JournalEntry]) -> str:
    """The block billbridge appends for one write: the entries, then the terminator.

    The block ends with `; billbridge-end <last idempotency key>` and a blank line;
    recovery treats a block without both as torn. An empty sequence renders as "".
    Raises `RecordError` for an account or metadata key Beancount would reject.
    """
    if not entries:
        return ""
    out: list[str] = []
    for i, entry in enumerate(entries):
        if i:
            out.append("")  # a blank line between entries
        _render_one(entry, out)
    out.append(END_PREFIX + escape(entries[-1].key) + "\n\n")
    return "\n".join(out)


def _render_one(entry: JournalEntry, out: list[str]) -> None:
    head = entry.date.isoformat() + " *"
    if entry.payee:
        head += ' "' + escape(entry.payee) + '"'
    head += ' "' + escape(entry.narration) + '"'
    seen: set[str] = set()
    for raw in entry.links:
        link = _link(raw)
        if link and link not in seen:
            seen.add(link)
            head += " ^" + link
    out.append(head)
    out.append('  billbridge-key: "' + escape(entry.source) + '"')
    out.append(VERSION_PREFIX + escape(entry.version) + '"')
    out.append(IDEM_PREFIX + escape(entry.key) + '"')
    out.append('  billbridge-entity: "' + escape(entry.entity) + '"')
    for key, value in entry.meta:
        problem = _meta_key_problem(key)
        if problem:
            raise RecordError(f"{entry.source}: {problem}")
        out.append("  " + key + ': "' + escape(value) + '"')
    rows: list[tuple[str, str, str, Posting]] = []
    width = _AMOUNT_COLUMN
    for posting in entry.postings:
        account = posting.account
        problem = _checked_account(account)
        if problem:
            raise RecordError(f"{entry.source}: {problem}")
        # A converted leg keeps its transaction amount as units and its converted amount
        # as the total price (`100.00 USD @@ 91.00 EUR`): its weight is the converted
        # amount, so the entry balances in the entity's currency, as JournalEntry does.
        shown = posting.amount if posting.original is None else posting.original
        if shown is not posting.amount and (posting.amount.amount * shown.amount) < 0:
            raise RecordError(
                f"{entry.source}: {account} is {shown} converted to {posting.amount}, the "
                "other side; Beancount cannot state that (a price is never negative)"
            )
        amount = shown.amount
        number = f"{amount:f}" if amount else f"{abs(amount):f}"  # never "-0.00"
        width = max(width, len(account) + 2 + len(number))
        rows.append((account, number, shown.currency, posting))
    anchor = _anchor(rows) if any(p.original is not None for *_, p in rows) else None
    if anchor is not None:
        rows.append(anchor)
        width = max(width, len(anchor[0]) + 2 + len(anchor[1]))
    for account, number, currency, posting in rows:
        pad = " " * (width - len(account) - len(number))
        price = ""
        if posting.original is not None:
            price = f" @@ {abs(posting.amount.amount):f} {posting.amount.currency}"
        out.append("  " + account + pad + number + " " + currency + price)
        if posting.memo:
            out.append('    memo: "' + escape(posting.memo) + '"')
        for key, value in posting.meta:
            problem = _meta_key_problem(key)
            if problem:
                raise RecordError(f"{entry.source}: {problem}")
            out.append("    " + key + ': "' + escape(value) + '"')


_ANCHOR_MEMO: Final = (
    "zero: gives Beancount a tolerance in this currency, so the exact conversions above "
    "balance (their per-unit prices have no exact decimal)"
)


def _anchor(rows: list[tuple[str, str, str, Posting]]) -> tuple[str, str, str, Posting] | None:
    """A zero posting in the functional currency, when Beancount needs one to balance.

    Why: Beancount turns `u X @@ c F` into a per-unit price c/u, 28 digits long when
    c/u has no exact decimal, and the weight u x (c/u) then misses c by about 1e-27.
    It balances an entry within a tolerance it infers only from amounts written in F
    itself (half their last digit); an entry whose every leg is converted (a JPY invoice
    in EUR books) has none, so it fails by 1e-27 although its converted amounts sum to
    zero exactly. This asks Beancount's own arithmetic whether the entry balances as
    written, and only if it does not, adds `<account> 0.00 F` (one more decimal than F
    has, at least one) on the largest converted leg's account: it changes no balance
    and gives the tolerance. See docs/mapping.md, "FX rounding".
    """
    from beancount.core import data, interpolate  # noqa: PLC0415 - only for converted entries
    from beancount.core.amount import Amount  # noqa: PLC0415
    from beancount.parser.options import OPTIONS_DEFAULTS  # noqa: PLC0415

    postings = []
    functional = ""
    largest: tuple[Decimal, str] = (Decimal(-1), "")
    for account, _number, currency, posting in rows:
        shown = posting.original if posting.original is not None else posting.amount
        units = shown.amount
        price = None
        if posting.original is not None:
            functional = posting.amount.currency
            total = abs(posting.amount.amount)
            # as Beancount's parser reads `@@ total`: a per-unit price total / |units|
            price = Amount(total / abs(units) if units else Decimal(0), functional)
            largest = max(largest, (total, account))
        postings.append(data.Posting(account, Amount(units, currency), None, price, None, None))
    residual = interpolate.compute_residual(postings)  # type: ignore[no-untyped-call]
    tolerances = interpolate.infer_tolerances(postings, OPTIONS_DEFAULTS)  # type: ignore[no-untyped-call]
    if residual.is_small(tolerances):
        return None
    zero = Decimal(0).scaleb(-max(1, minor_units(functional)))
    posting = Posting(account=largest[1], amount=Money.zero(functional), memo=_ANCHOR_MEMO)
    return largest[1], f"{zero:f}", functional, posting
