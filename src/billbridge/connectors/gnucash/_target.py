"""The GnuCash target: one piecash session; each flush is one SQLite transaction.

Exactly-once: every transaction billbridge adds carries slots `billbridge-idem` (the
idempotency key), `billbridge-key` (the source record), `billbridge-version` and
`billbridge-seq`, a counter that only grows. `flush` commits the session and returns
the highest seq, which the engine stores with the batch; after a kill between the two,
`recover` returns the keys of transactions past that seq. A kill before `flush` leaves
nothing (SQLite rolls the open transaction back). The notes field repeats the record
key for people reading the transaction in GnuCash.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from billbridge.connectors.base import (
    FatalError,
    LedgerLeg,
    LedgerPosting,
    RecordError,
    Recovered,
    Written,
)
from billbridge.domain import JournalEntry

from ._accounts import ROOT_TYPES, account_type, gnucash_name
from ._book import open_book, quiet, release_lock

__all__ = ["ACCOUNT_SLOT", "IDEM_SLOT", "KEY_SLOT", "SEQ_SLOT", "GnuCashTarget", "render"]

IDEM_SLOT: Final = "billbridge-idem"
KEY_SLOT: Final = "billbridge-key"
SEQ_SLOT: Final = "billbridge-seq"
VERSION_SLOT: Final = "billbridge-version"
ENTITY_SLOT: Final = "billbridge-entity"
ACCOUNT_SLOT: Final = "billbridge-account"  # on accounts: the mapping name they hold

INDEX_SQL: Final = f"""
SELECT i.string_val, s.int64_val, t.guid
FROM transactions t
JOIN slots i ON i.obj_guid = t.guid AND i.name = '{IDEM_SLOT}'
JOIN slots s ON s.obj_guid = t.guid AND s.name = '{SEQ_SLOT}'
"""

# A recovered transaction's splits, in the order they were inserted (the rowid), and the
# currency they are valued in (the transaction's).
_RECOVER_SQL: Final = f"""
SELECT i.string_val, t.guid, t.post_date, COALESCE(v.string_val, ''), sp.account_guid,
       sp.value_num, sp.value_denom, c.mnemonic
FROM transactions t
JOIN slots i ON i.obj_guid = t.guid AND i.name = '{IDEM_SLOT}'
JOIN slots s ON s.obj_guid = t.guid AND s.name = '{SEQ_SLOT}'
LEFT JOIN slots v ON v.obj_guid = t.guid AND v.name = '{VERSION_SLOT}'
JOIN splits sp ON sp.tx_guid = t.guid
JOIN commodities c ON c.guid = t.currency_guid
WHERE s.int64_val > :p
ORDER BY s.int64_val, sp.rowid
"""


def _notes(entry: JournalEntry) -> str:
    lines = [f"billbridge-key: {entry.source}", f"billbridge-idem: {entry.key}"]
    if entry.links:
        lines.append("links: " + " ".join(entry.links))
    lines.extend(f"{key}: {value}" for key, value in entry.meta)
    return "\n".join(lines)


def render(entries: Sequence[JournalEntry]) -> str:
    """The transactions `write` would add, as text (for --dry-run)."""
    out: list[str] = []
    for entry in entries:
        currency = entry.postings[0].amount.currency if entry.postings else ""
        out.append(f"{entry.date.isoformat()} {entry.narration} [{currency}]")
        out.extend(f"  {line}" for line in _notes(entry).splitlines())
        out.extend(
            f"  split {p.account} {p.amount.amount:f} {p.amount.currency}" for p in entry.postings
        )
    return "\n".join(out) + ("\n" if out else "")


class GnuCashTarget:
    """Transactions in the GnuCash book at `path` (created with base `currency` if missing)."""

    # a write only adds to the session; the book is written at `flush`
    all_or_nothing = True

    def __init__(self, name: str, path: Path, *, currency: str | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self.book: Any = open_book(self.path, currency=currency)
        self._broken = ""
        try:
            self._load()
        except BaseException:
            release_lock(self.book)
            raise

    def _load(self) -> None:
        """(Re)read what the book holds: accounts, currencies, our keys and the last seq."""
        with quiet():
            from sqlalchemy import text  # noqa: PLC0415

            self.base = str(self.book.default_currency.mnemonic)
            self._accounts: dict[str, Any] = {a.fullname: a for a in self.book.accounts}
            self._commodities: dict[str, Any] = {}
            self._resolved: dict[tuple[str, str], Any] = {}
            self._index: dict[str, str] = {}
            self._seq = 0
            for idem, seq, guid in self.book.session.execute(text(INDEX_SQL)):
                self._index.setdefault(str(idem), self._ref(str(guid)))
                self._seq = max(self._seq, int(seq))

    def _ref(self, guid: str) -> str:
        return f"{self.path.name}#{guid}"

    # -- the TargetConnector protocol ----------------------------------------------------

    def render(self, entries: Sequence[JournalEntry]) -> str:
        return render(entries)

    def write(self, entries: Sequence[JournalEntry]) -> Written:
        """Add one record's transactions to the session (durable at `flush`).

        Everything GnuCash would refuse is checked before anything is added, so a
        refused record (`RecordError`) leaves the session as it was.
        """
        if self._broken:
            raise FatalError(self._broken)
        for entry in entries:
            self._check(entry)
        refs: list[str] = []
        try:
            with quiet():
                refs.extend(self._index.get(entry.key) or self._add(entry) for entry in entries)
        except RecordError:
            raise
        except Exception as exc:
            self._broken = (
                f"the GnuCash book {self.path} refused a transaction ({exc}); this run stops "
                "and the next one writes the batch again"
            )
            raise FatalError(self._broken) from exc
        return Written(ref=", ".join(refs), position=self._seq)

    def _check(self, entry: JournalEntry) -> None:
        currencies = {p.amount.currency for p in entry.postings}
        if len(currencies) != 1:
            raise RecordError(
                f"{entry.source}: a GnuCash transaction has one currency, this entry has "
                f"{', '.join(sorted(currencies))}; post each currency as its own entry"
            )
        currency = currencies.pop()
        for posting in entry.postings:
            if account_type(posting.account) is None:
                raise RecordError(
                    f"{entry.source}: account {posting.account!r} must start with one of "
                    f"{', '.join(ROOT_TYPES)} (its GnuCash type follows the first component)"
                )
            self._account(posting.account, currency, create=False)

    def _add(self, entry: JournalEntry) -> str:
        import piecash  # noqa: PLC0415

        currency = entry.postings[0].amount.currency
        splits = [
            piecash.Split(
                account=self._account(p.account, currency, create=True),
                value=p.amount.amount,
                memo=p.memo,
            )
            for p in entry.postings
        ]
        tx = piecash.Transaction(
            currency=self._commodity(currency),
            description=entry.narration,
            post_date=entry.date,
            notes=_notes(entry),
            splits=splits,
        )
        tx.guid = uuid.uuid4().hex  # known now, not at flush: the write's ref names it
        self._seq += 1
        tx[IDEM_SLOT] = entry.key
        tx[KEY_SLOT] = entry.source
        tx[VERSION_SLOT] = entry.version
        tx[ENTITY_SLOT] = entry.entity
        tx[SEQ_SLOT] = self._seq
        ref = self._ref(str(tx.guid))
        self._index[entry.key] = ref
        return ref

    def _commodity(self, currency: str) -> Any:
        found = self._commodities.get(currency)
        if found is None:
            found = self.book.currencies(mnemonic=currency)  # created from ISO data if missing
            self._commodities[currency] = found
        return found

    def _account(self, name: str, currency: str, *, create: bool) -> Any:
        """The account holding `name` in `currency`; with create=False only checks it."""
        resolved = self._resolved.get((name, currency))
        if resolved is not None:
            return resolved
        existing = self._accounts.get(name)
        held = str(existing.commodity.mnemonic) if existing is not None else None
        full = gnucash_name(name, currency, self.base, held)
        account = self._accounts.get(full)
        if account is not None and str(account.commodity.mnemonic) != currency:
            raise RecordError(
                f"GnuCash account {full!r} holds {account.commodity.mnemonic}, not {currency}; "
                "rename it in the book or map this amount to another account"
            )
        if account is None:
            if not create:
                return None
            account = self._create(full, currency, logical=name)
        self._resolved[(name, currency)] = account
        return account

    def _create(self, full: str, currency: str, *, logical: str) -> Any:
        import piecash  # noqa: PLC0415

        parts = full.split(":")
        parent = self.book.root_account
        kind = account_type(logical) or "ASSET"
        for depth in range(1, len(parts) + 1):
            path = ":".join(parts[:depth])
            account = self._accounts.get(path)
            if account is None:
                leaf = depth == len(parts)
                account = piecash.Account(
                    name=parts[depth - 1],
                    type=kind if leaf else (account_type(path) or kind),
                    commodity=self._commodity(currency if leaf else self.base),
                    parent=parent,
                    description="created by billbridge" if leaf else "",
                )
                if leaf:
                    account[ACCOUNT_SLOT] = logical
                self._accounts[path] = account
            parent = account
        return parent

    def flush(self) -> int:
        """Commit the session (one SQLite transaction); return the highest seq."""
        if self._broken:
            raise FatalError(self._broken)
        try:
            with quiet():
                self.book.save()
        except Exception as exc:
            self._broken = f"cannot save the GnuCash book {self.path}: {exc}"
            with quiet():
                self.book.session.rollback()
            raise FatalError(self._broken) from exc
        return self._seq

    def recover(self, committed_position: int) -> Mapping[str, Recovered]:
        """Transactions with a seq past the committed one, with their splits in the order
        they were added, under the mapping's account names; unflushed ones are dropped."""
        if committed_position < 0:
            raise ValueError(f"committed_position must not be negative: {committed_position}")
        with quiet():
            from sqlalchemy import text  # noqa: PLC0415

            self.book.session.rollback()
            self._broken = ""
            self._load()
            rows = self.book.session.execute(
                text(_RECOVER_SQL), {"p": committed_position}
            ).fetchall()
            names = {
                str(account.guid): (
                    str(account[ACCOUNT_SLOT].value)
                    if ACCOUNT_SLOT in account
                    else str(account.fullname)
                )
                for account in self._accounts.values()
            }
        found: dict[str, Recovered] = {}
        legs: dict[str, list[LedgerLeg]] = {}
        for idem, guid, posted, version, account, num, denom, currency in rows:
            key = str(idem)
            if key not in found:
                legs[key] = []
                found[key] = Recovered(
                    ref=self._ref(str(guid)),
                    date=date.fromisoformat(str(posted)[:10]),
                    legs=(),
                    version=str(version),
                )
            legs[key].append(
                LedgerLeg(
                    account=names.get(str(account), str(account)),
                    amount=Decimal(int(num)) / Decimal(int(denom)),
                    currency=str(currency),
                )
            )
        return {key: replace(item, legs=tuple(legs[key])) for key, item in found.items()}

    def find(self, idempotency_keys: Sequence[str]) -> Mapping[str, str]:
        return {key: self._index[key] for key in idempotency_keys if key in self._index}

    def ledger_postings(self) -> Iterator[LedgerPosting]:
        """The `LedgerReader` protocol: billbridge's transactions as the book holds them."""
        from ._read import read_postings  # noqa: PLC0415 - _read imports this module

        return read_postings(self.path)

    def close(self) -> None:
        """Discard anything not flushed, drop the lock row, close the book."""
        release_lock(self.book)
