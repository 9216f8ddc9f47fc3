"""Read a GnuCash book back through piecash: balances and posting counts.

Why through piecash and read-only: these answer "what does the book itself hold?", the
question a control total and an exactly-once check must ask of the book, not of
billbridge's state store.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

from billbridge.connectors.base import FatalError, LedgerLeg, LedgerPosting

from ._book import quiet
from ._target import ACCOUNT_SLOT, IDEM_SLOT, KEY_SLOT

__all__ = ["balances", "ledger_lines", "posted_keys", "read_postings", "record_counts"]


def _quantum(fraction: int) -> Decimal:
    """The smallest unit of a commodity whose GnuCash fraction is `fraction` (100 → 0.01)."""
    return Decimal(1) / Decimal(fraction) if fraction > 1 else Decimal(1)


def balances(path: Path) -> dict[tuple[str, str], Decimal]:
    """(mapping account, currency) → balance of every account with splits.

    An account billbridge created for a second currency (`…:JPY`) reports under the
    mapping name it holds (its `billbridge-account` slot), so balances compare across
    targets; accounts a person made report under their full name.
    """
    with quiet():
        import piecash  # noqa: PLC0415

        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        with piecash.open_book(str(path), readonly=True, open_if_lock=True) as book:
            for account in book.accounts:
                if not account.splits:
                    continue
                name = account[ACCOUNT_SLOT].value if ACCOUNT_SLOT in account else account.fullname
                total = sum((Decimal(s.quantity) for s in account.splits), Decimal(0))
                exact = total.quantize(_quantum(account.commodity.fraction))
                totals[str(name), str(account.commodity.mnemonic)] += exact
        return dict(totals)


def _slot_counts(path: Path, slot: str) -> Counter[str]:
    with quiet():
        import piecash  # noqa: PLC0415
        from sqlalchemy import text  # noqa: PLC0415

        with piecash.open_book(str(path), readonly=True, open_if_lock=True) as book:
            rows = book.session.execute(
                text(
                    "SELECT s.string_val, COUNT(*) FROM transactions t "
                    "JOIN slots s ON s.obj_guid = t.guid AND s.name = :n GROUP BY s.string_val"
                ),
                {"n": slot},
            )
            return Counter({str(value): int(n) for value, n in rows})


def posted_keys(path: Path) -> Counter[str]:
    """How many transactions carry each idempotency key (exactly-once checks)."""
    return _slot_counts(path, IDEM_SLOT)


def record_counts(path: Path) -> Counter[str]:
    """How many transactions each source record key has (all facets together)."""
    return _slot_counts(path, KEY_SLOT)


_LINES_SQL = f"""
SELECT t.guid, COALESCE(i.string_val, ''), COALESCE(k.string_val, ''), s.account_guid,
       s.quantity_num, s.quantity_denom
FROM splits s
JOIN transactions t ON t.guid = s.tx_guid
LEFT JOIN slots i ON i.obj_guid = t.guid AND i.name = '{IDEM_SLOT}'
LEFT JOIN slots k ON k.obj_guid = t.guid AND k.name = '{KEY_SLOT}'
ORDER BY t.post_date, t.guid
"""
_ACCOUNTS_SQL = f"""
SELECT a.guid, a.name, a.parent_guid, a.account_type, c.mnemonic, c.fraction, m.string_val
FROM accounts a
LEFT JOIN commodities c ON c.guid = a.commodity_guid
LEFT JOIN slots m ON m.obj_guid = a.guid AND m.name = '{ACCOUNT_SLOT}'
"""


def ledger_lines(path: Path) -> Iterator[tuple[str, str, str, str, str, Decimal]]:
    """(entry id, idempotency key, record key, account, currency, amount) per split.

    Read with SQL from the book's own tables (read-only), not through piecash objects:
    a control total over a large book must not load every transaction into memory.
    The account is the mapping name (as in `balances`), the amount the split's
    quantity in its account's commodity.
    """
    uri = f"file:{path}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise FatalError(f"cannot read the GnuCash book {path}: {exc}") from exc
    try:
        accounts = {
            guid: (name, parent, kind, mnemonic, fraction, logical)
            for guid, name, parent, kind, mnemonic, fraction, logical in db.execute(_ACCOUNTS_SQL)
        }

        def full_name(guid: str) -> str:
            parts: list[str] = []
            current: str | None = guid
            while current in accounts and accounts[current][2] != "ROOT":
                parts.append(str(accounts[current][0]))
                current = accounts[current][1]
            return ":".join(reversed(parts))

        names: dict[str, tuple[str, str, Decimal]] = {}
        for guid, (_n, _p, _k, mnemonic, fraction, logical) in accounts.items():
            names[guid] = (
                str(logical) if logical else full_name(guid),
                str(mnemonic),
                _quantum(int(fraction or 1)),
            )
        for tx, idem, record, account, num, denom in db.execute(_LINES_SQL):
            name, currency, quantum = names[account]
            amount = (Decimal(num) / Decimal(denom)).quantize(quantum)
            yield str(tx), str(idem), str(record), name, currency, amount
    finally:
        db.close()


_POSTINGS_SQL = f"""
SELECT t.guid, t.post_date, i.string_val, COALESCE(k.string_val, ''), COALESCE(n.string_val, '')
FROM transactions t
JOIN slots i ON i.obj_guid = t.guid AND i.name = '{IDEM_SLOT}'
LEFT JOIN slots k ON k.obj_guid = t.guid AND k.name = '{KEY_SLOT}'
LEFT JOIN slots n ON n.obj_guid = t.guid AND n.name = 'notes'
"""


def read_postings(path: Path) -> Iterator[LedgerPosting]:
    """billbridge's transactions as the book holds them now (the `LedgerReader` protocol).

    Duplicates (a transaction a person duplicated in GnuCash keeps its slots) are
    returned too; legs are in each account's commodity, under the mapping account name.
    """
    legs: dict[str, list[LedgerLeg]] = {}
    for tx, _idem, _record, account, currency, amount in ledger_lines(path):
        legs.setdefault(tx, []).append(LedgerLeg(account=account, amount=amount, currency=currency))
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(_POSTINGS_SQL).fetchall()
    finally:
        db.close()
    for tx, posted, idem, record, notes in rows:
        links = next(
            (
                line.removeprefix("links: ").split()
                for line in str(notes).splitlines()
                if line.startswith("links: ")
            ),
            [],
        )
        yield LedgerPosting(
            idempotency_key=str(idem),
            record_key=str(record),
            ref=f"{path.name}#{tx}",
            date=date.fromisoformat(str(posted)[:10]),
            links=tuple(links),
            legs=tuple(legs.get(str(tx), ())),
        )
