"""Journal entries: the only thing billbridge ever writes to a ledger.

Why a refusing constructor: an entry that does not balance per currency is not a
posting with a small error, it is a wrong ledger. `JournalEntry` cannot be built
unbalanced, so no target connector ever has to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

from .frozen import fast_init
from .money import Money
from .problems import DomainError, Problem

__all__ = ["JournalEntry", "Posting"]

_ZERO: Final = Decimal(0)


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Posting:
    """One leg of an entry: a positive amount is a debit, a negative one a credit.

    `original` is the transaction-currency amount when `amount` was converted into the
    entity's functional currency (a USD invoice in a EUR book): targets keep it as a
    price annotation, so the books show both and balance in the functional currency.
    `meta` carries per-leg facts a report needs (e.g. the tax report code).
    """

    account: str
    amount: Money
    memo: str = ""
    original: Money | None = None
    meta: tuple[tuple[str, str], ...] = ()


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """A balanced entry, linked to the source records it came from.

    `key` is the idempotency key of the write (flow, source record, facet); `source` the
    record key; `version` the source content hash; `links` group an invoice with its
    payments, refunds and credit notes (Beancount `^links`).
    """

    date: date
    narration: str
    postings: tuple[Posting, ...]
    key: str
    source: str
    version: str
    entity: str = "default"
    payee: str = ""
    links: tuple[str, ...] = ()
    meta: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise DomainError(problems)

    def problems(self) -> tuple[Problem, ...]:
        if not self.postings:
            return (
                Problem(
                    record=self.source,
                    field="postings",
                    message="journal entry has no postings",
                    hint="check the posting rule that built it",
                ),
            )
        sums: dict[str, Decimal] = {}
        for posting in self.postings:
            amount = posting.amount
            sums[amount.currency] = sums.get(amount.currency, _ZERO) + amount.amount
        if not any(sums.values()):
            return ()  # balanced: the common case, without sorting or a generator
        return tuple(
            Problem(
                record=self.source,
                field="postings",
                message=f"journal entry does not balance: {currency} postings sum to "
                f"{amount:f} {currency}, not zero",
                hint="every debit needs a matching credit in the same currency",
            )
            for currency, amount in sorted(sums.items())
            if amount
        )

    def totals(self) -> dict[str, Money]:
        """Sum of debits per currency (what a control total compares)."""
        sums: dict[str, Money] = {}
        for posting in self.postings:
            if posting.amount.amount > 0:
                cur = posting.amount.currency
                sums[cur] = sums.get(cur, Money.zero(cur)) + posting.amount
        return sums
