"""Read a GnuCash book back through piecash: balances and posting counts.

Why through piecash and read-only: these answer "what does the book itself hold?", the
question a control total and an exactly-once check must ask of the book, not of
billbridge's state store.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from ._book import quiet
from ._target import ACCOUNT_SLOT, IDEM_SLOT, KEY_SLOT

__all__ = ["balances", "ledger_lines", "posted_keys", "record_counts"]


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


def ledger_lines(path: Path) -> Iterator[tuple[str, str, str, str, str, Decimal]]:
    """(entry id, idempotency key, record key, account, currency, amount) per split.

    The account is the mapping name (see `balances`), the amount the split's quantity in
    its account's commodity.
    """
    with quiet():
        import piecash  # noqa: PLC0415

        rows = []
        with piecash.open_book(str(path), readonly=True, open_if_lock=True) as book:
            names = {
                a.guid: (
                    str(a[ACCOUNT_SLOT].value if ACCOUNT_SLOT in a else a.fullname),
                    str(a.commodity.mnemonic),
                    _quantum(a.commodity.fraction),
                )
                for a in book.accounts
            }
            for tx in book.transactions:
                idem = str(tx[IDEM_SLOT].value) if IDEM_SLOT in tx else ""
                record = str(tx[KEY_SLOT].value) if KEY_SLOT in tx else ""
                for split in tx.splits:
                    name, currency, quantum = names[split.account.guid]
                    amount = Decimal(split.quantity).quantize(quantum)
                    rows.append((str(tx.guid), idem, record, name, currency, amount))
    yield from rows
