"""Deferred revenue at posting time: which lines are deferred, and the split of each document.

Why a split after conversion: an invoice line paid for a year ahead is a contract
liability, not revenue (ASC 606 / IFRS 15). The posting rules mark such a line's revenue
leg (`tag`) and build every entry as before; `split_deferred` then cuts each marked leg
into the part its service period has already earned by the entry's date (to the revenue
account) and the rest (to `deferral.account`), in the entity's currency after
conversion, so both parts are exact in the books' currency and in the transaction's.

One rule for every document that touches a deferred line, by its own date:
- the invoice: usually issued on its period's first day, so all of it is deferred (a
  period that began before the invoice has its elapsed days earned at once);
- a credit note (or its refund) on the line: the credited amount is a change of the line's
  price over its whole period (ASC 606-10-32-42 to 45, IFRS 15.87-90), so the part for
  the days before the credit note reduces revenue and the rest reduces the deferred
  balance;
- a void of the invoice, or of a credit note: the same split of the reversed amount.
`billbridge recognize` (mapping/recognition.py) later moves each deferred part to revenue
month by month, from the document's date to the end of the period.

The marks travel as posting metadata, which Beancount also shows: `deferred-line` (the
document's line), `service` (first..last day) and, on the deferred part,
`recognize-to` (the revenue account recognition credits).
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel, ConfigDict, Field

from billbridge.domain import InvoiceLine, JournalEntry, Posting, Service, earned_pair

if TYPE_CHECKING:
    from .model import Mapping

__all__ = [
    "LINE",
    "REVENUE",
    "SERVICE",
    "DeferralSettings",
    "parse_service",
    "service_of",
    "split_deferred",
    "tag",
]

LINE: Final = "deferred-line"
SERVICE: Final = "service"
REVENUE: Final = "recognize-to"
_TAGS: Final = frozenset({LINE, SERVICE, REVENUE})


class DeferralSettings(BaseModel):
    """`deferral:` in a mapping: where deferred revenue waits, and which lines defer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str  # a liability, e.g. Liabilities:Deferred-Revenue
    min_days: int = Field(ge=1, le=3660)  # lines whose service period has at least this many days
    products: list[str] = Field(default_factory=list)  # only these products (empty: every one)


def service_of(line: InvoiceLine, mapping: Mapping) -> Service | None:
    """The service period over which `line` is recognized, or None when it is not deferred.

    Days are taken in the entity's time zone; a line without a period, shorter than
    `min_days`, or of a product the settings do not list is revenue at once.
    """
    settings = mapping.deferral
    if settings is None or line.period_start is None or line.period_end is None:
        return None
    if settings.products and line.product not in settings.products:
        return None
    zone = mapping.zone
    service = Service(
        start=line.period_start.astimezone(zone).date(),
        end=line.period_end.astimezone(zone).date(),
    )
    return service if service.days >= settings.min_days else None


def tag(line_id: str, service: Service | None) -> tuple[tuple[str, str], ...]:
    """The metadata that marks a revenue leg as deferred over `service` (none when None)."""
    if service is None:
        return ()
    return ((LINE, line_id), (SERVICE, str(service)))


def parse_service(text: str) -> Service | None:
    """The `service` metadata ("2026-01-01..2026-12-31") back as a Service."""
    first, sep, last = text.partition("..")
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last) + timedelta(days=1)
    except ValueError:
        return None
    return Service(start=start, end=end) if sep else None


def split_deferred(entry: JournalEntry, mapping: Mapping) -> JournalEntry:
    """`entry` with each marked revenue leg cut into its earned and its deferred part.

    The earned part (by the days of the service before the entry's date) stays on the
    revenue account, marked with the line only; the rest goes to `deferral.account`,
    marked with the line, the service and the revenue account. A part that is zero is
    left out. Entries without marks are returned as they are.
    """
    settings = mapping.deferral
    if settings is None or not any(_marked(p) for p in entry.postings):
        return entry
    postings: list[Posting] = []
    for posting in entry.postings:
        marks = dict(posting.meta)
        service = parse_service(marks.get(SERVICE, "")) if _marked(posting) else None
        if service is None:
            postings.append(posting)
            continue
        plain = tuple((k, v) for k, v in posting.meta if k not in _TAGS)
        line = (LINE, marks[LINE])
        done, done_original = earned_pair(
            posting.amount, posting.original, service, service.clip(entry.date)
        )
        if done:
            postings.append(
                Posting(
                    account=posting.account,
                    amount=done,
                    memo=posting.memo,
                    original=done_original,
                    meta=(*plain, line),
                )
            )
        rest = posting.amount - done
        if rest:
            postings.append(
                Posting(
                    account=settings.account,
                    amount=rest,
                    memo=posting.memo,
                    original=None
                    if posting.original is None or done_original is None
                    else posting.original - done_original,
                    meta=(*plain, line, (SERVICE, str(service)), (REVENUE, posting.account)),
                )
            )
    return dataclasses.replace(entry, postings=tuple(postings))


def _marked(posting: Posting) -> bool:
    """A revenue leg the rules marked and `split_deferred` has not cut yet."""
    meta = posting.meta
    if not meta:
        return False
    keys = {k for k, _ in meta}
    return LINE in keys and SERVICE in keys and REVENUE not in keys
