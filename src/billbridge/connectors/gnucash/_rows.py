"""The rows one journal entry adds to a GnuCash book: a transaction, its splits, its slots.

Why rows and not piecash objects: building a `Transaction` with its `Split`s and slot
objects, then letting SQLAlchemy flush one INSERT per object and piecash validate each,
cost about ten times what writing the same rows costs. The rows here are exactly what
piecash writes (tests/integration/connectors/test_gnucash_rows.py compares the two
books table by table), and what piecash's validation checks is checked before a row is
made: one currency, accounts that are not placeholders and hold that currency, amounts
GnuCash can hold exactly, splits that balance. A refused entry is a `RecordError`
naming what to fix; nothing of it is kept.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from billbridge.connectors.base import RecordError
from billbridge.domain import JournalEntry

__all__ = [
    "INSERT_SLOT",
    "INSERT_SPLIT",
    "INSERT_TRANSACTION",
    "BookAccount",
    "PendingRows",
    "add_transaction",
    "guids",
]

INSERT_TRANSACTION: Final = (
    "INSERT INTO transactions (guid, currency_guid, num, post_date, enter_date, description) "
    "VALUES (?, ?, '', ?, ?, ?)"
)
INSERT_SPLIT: Final = (
    "INSERT INTO splits (guid, tx_guid, account_guid, memo, action, reconcile_state, "
    "reconcile_date, value_num, value_denom, quantity_num, quantity_denom, lot_guid) "
    "VALUES (?, ?, ?, ?, '', 'n', NULL, ?, ?, ?, ?, NULL)"
)
# A slot row as piecash writes one: the unused value columns hold their defaults.
INSERT_SLOT: Final = (
    "INSERT INTO slots (obj_guid, name, slot_type, int64_val, string_val, double_val, "
    "timespec_val, guid_val, numeric_val_num, numeric_val_denom, gdate_val) "
    "VALUES (?, ?, ?, ?, ?, 0.0, NULL, NULL, 0, 1, ?)"
)
_INT64: Final = 1  # GnuCash's KvpValue types, as stored in slots.slot_type
_STRING: Final = 4
_GDATE: Final = 10
# GnuCash keeps a posting date as that day at 10:59 UTC ("neutral time"): the same
# calendar day in every time zone from UTC-10 to UTC+13.
_NEUTRAL_TIME: Final = "10:59:00"


@dataclass(frozen=True, slots=True)
class BookAccount:
    """What a split needs of the account it posts to."""

    guid: str
    name: str  # the full GnuCash name, for messages
    scu: int  # smallest unit of the account's commodity: 100 is cents
    placeholder: bool  # a placeholder only groups accounts; GnuCash refuses splits in it


@dataclass(slots=True)
class PendingRows:
    """Rows written at the next flush, in the order they were added."""

    transactions: list[tuple[Any, ...]] = field(default_factory=list)
    splits: list[tuple[Any, ...]] = field(default_factory=list)
    slots: list[tuple[Any, ...]] = field(default_factory=list)

    def clear(self) -> None:
        self.transactions.clear()
        self.splits.clear()
        self.slots.clear()

    def __bool__(self) -> bool:
        return bool(self.transactions)


class _Guids:
    """New GnuCash guids: RFC 9562 version 7 UUIDs (a millisecond clock, then random
    bits), as 32 hex digits, in the order they are made.

    Why not random ones (piecash's uuid4): GnuCash keys transactions and splits by guid,
    and random keys put every new row on a random page of each index, so a batch of a
    few hundred transactions rewrote thousands of pages of a large book (4x the time of
    the whole flush on a 100k-record backfill). Keys that grow land on the last pages.
    GnuCash asks of a guid only that it is unique: 48 bits of time, a 12-bit counter
    within the millisecond and 62 random bits are. Python has uuid7 only from 3.14.
    """

    _RANDOM = (1 << 62) - 1
    _VERSION = 0x7 << 76
    _VARIANT = 0b10 << 62

    def __init__(self) -> None:
        self._ms = 0
        self._count = 0

    def __call__(self, n: int) -> list[str]:
        now = time.time_ns() // 1_000_000
        if now > self._ms:
            self._ms, self._count = now, 0
        noise = os.urandom(8 * n)
        out = []
        for at in range(0, 8 * n, 8):
            if self._count > 0xFFF:  # 4096 in one millisecond: borrow the next one
                self._ms, self._count = self._ms + 1, 0
            tail = int.from_bytes(noise[at : at + 8], "big") & self._RANDOM
            value = (self._ms << 80) | self._VERSION | (self._count << 64) | self._VARIANT | tail
            out.append(f"{value:032x}")
            self._count += 1
        return out


guids = _Guids()


def _units(entry: JournalEntry, amount: Decimal, denom: int, account: BookAccount) -> int:
    """`amount` as a count of 1/denom, refused when GnuCash cannot hold it exactly."""
    units = amount * denom
    if units != units.to_integral_value():
        raise RecordError(
            f"{entry.source}: {amount} cannot be held exactly in GnuCash account "
            f"{account.name!r} (its smallest unit is 1/{denom}); round the amount or "
            "give the account a finer unit"
        )
    return int(units)


def add_transaction(
    rows: PendingRows,
    entry: JournalEntry,
    *,
    guid: str,
    split_guids: list[str],
    currency_guid: str,
    fraction: int,
    accounts: list[BookAccount],
    slots: list[tuple[str, str | int]],
    notes: str,
    entered: str,
) -> None:
    """Add the rows of `entry` (posted to `accounts`, one per posting) to `rows`.

    `fraction` is the transaction currency's smallest unit (a split's value is kept in
    it), each account's `scu` its quantity's; an account here holds the transaction's
    currency, so value and quantity are the same amount. `slots` are the transaction's
    own (name, text or integer), after GnuCash's `date-posted` and `notes`. `entered`
    is the entry time as GnuCash stores it (UTC, "YYYY-MM-DD HH:MM:SS").
    Raises `RecordError` before adding anything when GnuCash would refuse the entry.
    """
    splits = []
    balance = 0
    for posting, account, split_guid in zip(entry.postings, accounts, split_guids, strict=True):
        if account.placeholder:
            raise RecordError(
                f"{entry.source}: GnuCash account {account.name!r} is a placeholder (it only "
                "groups other accounts, GnuCash refuses amounts in it); map this amount to "
                "one of its sub-accounts, or clear Placeholder on the account in GnuCash"
            )
        amount = posting.amount.amount
        value = _units(entry, amount, fraction, account)
        quantity = _units(entry, amount, account.scu, account)
        balance += value
        splits.append(
            (split_guid, guid, account.guid, posting.memo, value, fraction, quantity, account.scu)
        )
    if balance:
        raise RecordError(
            f"{entry.source}: the entry does not balance in GnuCash "
            f"(off by {Decimal(balance) / fraction} {entry.postings[0].amount.currency})"
        )
    day: date = entry.date
    rows.transactions.append(
        (guid, currency_guid, f"{day.isoformat()} {_NEUTRAL_TIME}", entered, entry.narration)
    )
    rows.splits.extend(splits)
    rows.slots.append((guid, "date-posted", _GDATE, 0, None, day.strftime("%Y%m%d")))
    rows.slots.append((guid, "notes", _STRING, 0, notes, None))
    for name, slot in slots:
        if isinstance(slot, int):
            rows.slots.append((guid, name, _INT64, slot, None, None))
        else:
            rows.slots.append((guid, name, _STRING, 0, slot, None))
