"""Invoice numbers seen, per entity and series (migration 0004).

Why the store and not the ledger: a duplicate or a gap is a fact about every invoice the
source ever showed us, including ones that failed before posting, and the check must hold
across runs and machines. A number is claimed by the first record that shows it; the
claim is idempotent for that record, so a replay or a crash between claim and commit never
turns a record into its own duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

__all__ = ["InvoiceNumberRow", "NumberWindow", "NumbersMixin"]

_PAGE = 1_000  # rows fetched at once when reading every number


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceNumberRow:
    entity: str
    series: str
    number: str
    seq: int | None  # the trailing integer of the number, None when it has none
    record_key: str
    first_seen: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberWindow:
    """Who holds the numbers of one series from `first` to `last` (None: no end), at once.

    A number in that range (Python `str` order, i.e. code points) that is not in `owners`
    was unclaimed when the store answered.
    """

    owners: Mapping[str, str]  # number -> record key
    first: str
    last: str | None

    def covers(self, number: str) -> bool:
        return self.first <= number and (self.last is None or number <= self.last)


class NumbersMixin:
    """Store methods for invoice numbers; mixed into SqlStore."""

    # Whether the database orders `number` by code point, as Python compares str: SQLite's
    # BINARY collation does (UTF-8 bytes), and so does PostgreSQL's column since migration
    # 0120 made it COLLATE "C" (before, it followed the database's collation).
    _codepoint_order: ClassVar[bool] = False

    if TYPE_CHECKING:
        _q: dict[str, str]
        _conn: Any

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Any]: ...
        def _ts(self, at: datetime) -> Any: ...
        def _dt(self, value: Any) -> datetime: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...

    def claim_invoice_number(
        self, *, entity: str, series: str, number: str, seq: int | None, record_key: str,
        at: datetime,
    ) -> str:  # fmt: skip
        """Record `number` for `record_key` unless already seen; return the record holding it."""
        with self._guard("read invoice numbers"):  # a number seen before needs no write
            held = self._all("invoice_number_owner", (entity, series, number))
        if held:
            return str(held[0][0])
        with self._guard("claim invoice number"), self._write() as tx:
            tx.execute(
                self._q["claim_invoice_number"],
                (entity, series, number, seq, record_key, self._ts(at)),
            )
            rows = list(tx.execute(self._q["invoice_number_owner"], (entity, series, number)))
        return str(rows[0][0]) if rows else record_key

    def invoice_number_owner(self, *, entity: str, series: str, number: str) -> str | None:
        with self._guard("read invoice numbers"):
            rows = self._all("invoice_number_owner", (entity, series, number))
        return str(rows[0][0]) if rows else None

    def invoice_number_window(
        self, *, entity: str, series: str, number: str, limit: int
    ) -> NumberWindow:
        """The owners of `number` and of the next numbers of its series, in one query.

        Why: the sync checks every invoice's number, mostly in number order, so one read
        of the `limit` claimed numbers from `number` on also answers the look-ups after it
        (and, when fewer come back, every number above). Where the database's order is
        not Python's, the window is `number` alone.
        """
        if not self._codepoint_order:
            owner = self.invoice_number_owner(entity=entity, series=series, number=number)
            return NumberWindow(
                owners={} if owner is None else {number: owner}, first=number, last=number
            )
        with self._guard("read invoice numbers"):
            rows = self._all("invoice_numbers_from", (entity, series, number, limit))
        return NumberWindow(
            owners={str(n): str(key) for n, key in rows},
            first=number,
            last=str(rows[-1][0]) if len(rows) >= limit else None,
        )

    def invoice_numbers(self, *, entity: str | None = None) -> Iterator[InvoiceNumberRow]:
        """Every number seen, ordered by entity, series and sequence.

        Fetched a page at a time from one cursor (reconcile reads a whole history's
        numbers): read it to the end before writing to the store.
        """
        with self._guard("read invoice numbers"):
            cursor = self._conn.execute(self._q["invoice_numbers"], (entity, entity))
        while True:
            with self._guard("read invoice numbers"):
                rows = cursor.fetchmany(_PAGE)
            if not rows:
                return
            for r in rows:
                yield InvoiceNumberRow(
                    entity=r[0], series=r[1], number=r[2], seq=r[3], record_key=r[4],
                    first_seen=self._dt(r[5]),
                )  # fmt: skip
