"""The GnuCash target: one piecash session; each flush is one SQLite transaction.

piecash opens, locks and creates the book and its accounts; transactions are written as
rows into the book's own tables at `flush` (`_rows.py`: the rows piecash would write,
several hundred a statement, checked as piecash checks them before they are made).

Exactly-once: every transaction billbridge adds carries slots `billbridge-idem` (the
idempotency key), `billbridge-key` (the source record), `billbridge-version` and
`billbridge-seq`, a counter that only grows. `flush` commits the session and returns
the highest seq, which the engine stores with the batch; after a kill between the two,
`recover` returns the keys of transactions past that seq. A kill before `flush` leaves
nothing (SQLite rolls the open transaction back). The notes field repeats the record
key for people reading the transaction in GnuCash.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
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
from ._rows import (
    INSERT_SLOT,
    INSERT_SPLIT,
    INSERT_TRANSACTION,
    BookAccount,
    PendingRows,
    add_transaction,
    guids,
)

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
            self._currency_rows: dict[str, tuple[str, int]] = {}
            self._resolved: dict[tuple[str, str], BookAccount] = {}
            self._pending = PendingRows()
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
        """Add one record's transactions to what the next `flush` writes.

        Everything GnuCash would refuse is checked before anything is kept, so a refused
        record (`RecordError`) leaves the session and the pending rows as they were.
        """
        if self._broken:
            raise FatalError(self._broken)
        rows = PendingRows()
        planned: dict[tuple[str, str], BookAccount] = {}
        added: dict[str, str] = {}
        refs: list[str] = []
        seq = self._seq
        entered = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        try:
            for entry in entries:
                ref = self._index.get(entry.key) or added.get(entry.key)
                if ref is None:
                    seq += 1
                    ref = added[entry.key] = self._add(rows, entry, seq, planned, entered)
                refs.append(ref)
            # shallow first: an account planned inside another planned one finds its
            # parent made (`Assets:X` in EUR before `Assets:X:JPY`)
            for (name, currency), account in sorted(
                planned.items(), key=lambda item: item[1].name.count(":")
            ):
                self._create(account, currency, logical=name)
        except RecordError:
            raise
        except Exception as exc:
            self._broken = (
                f"the GnuCash book {self.path} refused a transaction ({exc}); this run stops "
                "and the next one writes the batch again"
            )
            raise FatalError(self._broken) from exc
        self._resolved.update(planned)
        self._pending.transactions.extend(rows.transactions)
        self._pending.splits.extend(rows.splits)
        self._pending.slots.extend(rows.slots)
        self._index.update(added)
        self._seq = seq
        return Written(ref=", ".join(refs), position=self._seq)

    def _add(
        self,
        rows: PendingRows,
        entry: JournalEntry,
        seq: int,
        planned: dict[tuple[str, str], BookAccount],
        entered: str,
    ) -> str:
        """Add `entry`'s rows to `rows`; the accounts it needs and lacks go into `planned`."""
        currencies = {p.amount.currency for p in entry.postings}
        if len(currencies) != 1:
            raise RecordError(
                f"{entry.source}: a GnuCash transaction has one currency, this entry has "
                f"{', '.join(sorted(currencies))}; post each currency as its own entry"
            )
        currency = currencies.pop()
        resolved, known = self._resolved, planned
        accounts = [
            resolved.get((p.account, currency))
            or known.get((p.account, currency))
            or self._account(entry, p.account, currency, planned)
            for p in entry.postings
        ]
        currency_guid, fraction = self._currency(currency)
        guid, *split_guids = guids(1 + len(entry.postings))  # known now: the write's ref
        add_transaction(
            rows,
            entry,
            guid=guid,
            split_guids=split_guids,
            currency_guid=currency_guid,
            fraction=fraction,
            accounts=accounts,
            slots=[
                (IDEM_SLOT, entry.key),
                (KEY_SLOT, entry.source),
                (VERSION_SLOT, entry.version),
                (ENTITY_SLOT, entry.entity),
                (SEQ_SLOT, seq),
            ],
            notes=_notes(entry),
            entered=entered,
        )
        return self._ref(guid)

    def _commodity(self, currency: str) -> Any:
        found = self._commodities.get(currency)
        if found is None:
            with quiet():  # created from ISO data if missing
                found = self.book.currencies(mnemonic=currency)
            self._commodities[currency] = found
        return found

    def _currency(self, currency: str) -> tuple[str, int]:
        """(guid, fraction) of a currency's commodity, read from piecash once."""
        found = self._currency_rows.get(currency)
        if found is None:
            commodity = self._commodity(currency)
            found = self._currency_rows[currency] = (str(commodity.guid), int(commodity.fraction))
        return found

    def _account(
        self,
        entry: JournalEntry,
        name: str,
        currency: str,
        planned: dict[tuple[str, str], BookAccount],
    ) -> BookAccount:
        """The account holding `name` in `currency`, first met: its type checked, and one
        the book lacks planned (a guid chosen now; `write` creates it once the whole
        record is accepted)."""
        if account_type(name) is None:
            raise RecordError(
                f"{entry.source}: account {name!r} must start with one of "
                f"{', '.join(ROOT_TYPES)} (its GnuCash type follows the first component)"
            )
        with quiet():  # piecash objects may load what they refer to
            existing = self._accounts.get(name)
            held = str(existing.commodity.mnemonic) if existing is not None else None
            full = gnucash_name(name, currency, self.base, held)
            account = self._accounts.get(full)
            if account is None:
                (guid,) = guids(1)
                new = BookAccount(guid, full, self._currency(currency)[1], placeholder=False)
                planned[(name, currency)] = new
                return new
            holds = str(account.commodity.mnemonic)
            if holds != currency:
                raise RecordError(
                    f"GnuCash account {full!r} holds {holds}, not {currency}; "
                    "rename it in the book or map this amount to another account"
                )
            found = BookAccount(
                str(account.guid), full, int(account.commodity_scu), bool(account.placeholder)
            )
        self._resolved[(name, currency)] = found
        return found

    def _create(self, planned: BookAccount, currency: str, *, logical: str) -> None:
        """Create the account `planned` (and any parent it lacks) in the session."""
        with quiet():
            self._create_quietly(planned, currency, logical=logical)

    def _create_quietly(self, planned: BookAccount, currency: str, *, logical: str) -> None:
        import piecash  # noqa: PLC0415

        parts = planned.name.split(":")
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
                account.guid = planned.guid if leaf else guids(1)[0]
                if leaf:
                    account[ACCOUNT_SLOT] = logical
                self._accounts[path] = account
            parent = account

    def flush(self) -> int:
        """Write the pending rows and commit (one SQLite transaction); return the highest seq.

        New accounts go first, through piecash (which validates them); the transactions'
        rows then go in one `executemany` per table on the session's own connection, so
        the commit holds both or neither.
        """
        if self._broken:
            raise FatalError(self._broken)
        try:
            with quiet():
                session = self.book.session
                session.flush()
                if self._pending:
                    cursor = session.connection().connection.cursor()
                    try:
                        cursor.executemany(INSERT_TRANSACTION, self._pending.transactions)
                        cursor.executemany(INSERT_SPLIT, self._pending.splits)
                        cursor.executemany(INSERT_SLOT, self._pending.slots)
                    finally:
                        cursor.close()
                self.book.save()
        except Exception as exc:
            self._broken = f"cannot save the GnuCash book {self.path}: {exc}"
            with quiet():
                self.book.session.rollback()
            raise FatalError(self._broken) from exc
        finally:
            self._pending.clear()
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
