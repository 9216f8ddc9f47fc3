"""Recognition entries: deferred revenue moved to revenue, month by month, exactly once.

Why pieces of posted documents: each document that touched a deferred line (the invoice,
its void, a credit note, a credit note's void) left a deferred part in the books
(mapping/deferral.py). That part is earned by the days of the line's service period from
the document's date on, so recognition is a pure function of the document's posted
entry: the calendar-month pieces of `domain.schedule.pieces`, each its own facet
`<document>:<line>:<YYYY-MM>` (one idempotency key per line and period) of the invoice's
recognition record. A piece is due once its last day is on or before `--through`; it is
dated that day. An invoice's pieces move deferred to revenue; a credit note's or a
void's move the reduction back, so the net of every month is the line's net price times
its days.

Two due pieces that cancel exactly (a void's piece and the invoice's piece of a later
month, neither posted yet) are both left out: posting nothing changes no balance, and a
voided annual plan does not fill the books with pairs that sum to zero.

`unrecognized` is the invariant the books must satisfy: what each deferred account holds
once every piece due by a date is recognized; `expected_deferred` computes it straight
from canonical invoices and credit notes (an oracle needs nothing else).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, NamedTuple

from billbridge.domain import (
    CreditNote,
    Invoice,
    JournalEntry,
    Money,
    Piece,
    Posting,
    Service,
    earned_pair,
    pieces,
    recognized_until,
)

from .deferral import LINE, REVENUE, SERVICE, parse_service
from .model import Mapping
from .rules import Context, Planned, plan_entries

__all__ = [
    "DeferredLeg",
    "Document",
    "RecognitionContext",
    "deferred_legs",
    "expected_deferred",
    "plan_recognition",
    "unrecognized",
]


class Document(NamedTuple):
    """A posted entry that may hold deferred parts, named for its recognition facets.

    `name`: `issue` or `void` for the invoice, the credit note's id, or `<id>-void`.
    `label`: how narrations name it ("credit note CN-7 on HB-0042").
    """

    name: str
    label: str
    entry: JournalEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class DeferredLeg:
    """The deferred part of one line of one document, and what it is a part of.

    `total` (with `original`, its transaction amount when converted) is the whole marked
    revenue leg; `deferred` the part posted to `account` on the document's date (`cut`);
    the rest of `total` was earned then. Signs are the ledger's: an invoice's legs are
    credits (negative), a credit note's or a void's are debits.
    """

    document: str
    label: str
    line: str
    memo: str
    entity: str
    account: str
    revenue: str
    service: Service
    cut: date
    total: Money
    original: Money | None
    deferred: Money
    deferred_original: Money | None

    def schedule(self) -> tuple[Piece, ...]:
        return pieces(self.total, self.service, cut=self.cut, original=self.original)

    def remainder(self, through: date | None) -> tuple[Money, Money | None]:
        """What this leg leaves in `account` once every piece due by `through` is posted."""
        until = recognized_until(self.service, self.cut, through)
        done, done_original = earned_pair(self.total, self.original, self.service, until)
        rest_original = (
            None
            if self.original is None or done_original is None
            else self.original - done_original
        )
        return self.total - done, rest_original


class RecognitionContext(NamedTuple):
    flow: str
    record: str  # the invoice's recognition record: connection:recognition:<invoice id>
    version: str
    link: str  # the invoice id, shared with the invoice's other entries
    payee: str = ""


def deferred_legs(documents: Iterable[Document]) -> tuple[DeferredLeg, ...]:
    """The deferred parts of the documents' entries (a leg fully earned at once has none)."""
    legs: list[DeferredLeg] = []
    for doc in documents:
        entry = doc.entry
        earned_parts: dict[str, list[Posting]] = defaultdict(list)
        deferred_parts: list[Posting] = []
        for posting in entry.postings:
            marks = dict(posting.meta)
            line = marks.get(LINE)
            if line is None:
                continue
            if REVENUE in marks:
                deferred_parts.append(posting)
            else:
                earned_parts[line].append(posting)
        for part in deferred_parts:
            marks = dict(part.meta)
            service = parse_service(marks.get(SERVICE, ""))
            if service is None:
                continue
            line = marks[LINE]
            total, original = part.amount, part.original
            for done in earned_parts.get(line, ()):
                total = total + done.amount
                if original is not None and done.original is not None:
                    original = original + done.original
            legs.append(
                DeferredLeg(
                    document=doc.name,
                    label=doc.label,
                    line=line,
                    memo=part.memo,
                    entity=entry.entity,
                    account=part.account,
                    revenue=marks[REVENUE],
                    service=service,
                    cut=service.clip(entry.date),
                    total=total,
                    original=original,
                    deferred=part.amount,
                    deferred_original=part.original,
                )
            )
    return tuple(legs)


def _entry(leg: DeferredLeg, piece: Piece, facet: str, ctx: RecognitionContext) -> JournalEntry:
    back = leg.total.amount > 0  # a credit note or a void: the recognition is taken back
    what = "reversed" if back else "recognized"
    days = f"{piece.days} of {leg.service.days} days"
    negated = None if piece.original is None else -piece.original
    return JournalEntry(
        date=piece.last,
        narration=f"Revenue {what} {piece.period} — {leg.label}"
        + (f", {leg.memo}" if leg.memo else "")
        + f" ({days})",
        postings=(
            Posting(account=leg.revenue, amount=piece.amount, original=piece.original),
            Posting(account=leg.account, amount=-piece.amount, original=negated),
        ),
        key=f"{ctx.flow}|{ctx.record}|{facet}",
        source=ctx.record,
        version=ctx.version,
        entity=leg.entity,
        payee=ctx.payee,
        links=(ctx.link,) if ctx.link else (),
        meta=(("service", str(leg.service)), ("recognized-days", days)),
    )


def _due(legs: Sequence[DeferredLeg], through: date) -> Iterator[tuple[str, DeferredLeg, Piece]]:
    for leg in legs:
        for piece in leg.schedule():
            if piece.last > through:
                break
            if piece.amount or (piece.original is not None and piece.original):
                yield f"{leg.document}:{leg.line}:{piece.period}", leg, piece


def plan_recognition(
    legs: Sequence[DeferredLeg],
    ctx: RecognitionContext,
    *,
    through: date,
    posted: Collection[str] = (),
) -> tuple[Planned, ...]:
    """The recognition entries due by `through`, posted ones included (the pipeline skips
    them by facet); pairs of unposted pieces that cancel exactly are left out."""
    due = sorted(_due(legs, through), key=lambda item: item[0])
    waiting: dict[tuple[object, ...], list[str]] = defaultdict(list)
    dropped: set[str] = set()
    for facet, leg, piece in due:
        if facet in posted:
            continue
        key = (piece.last, leg.entity, leg.account, leg.revenue, piece.amount, piece.original)
        negated = (
            piece.last,
            leg.entity,
            leg.account,
            leg.revenue,
            -piece.amount,
            None if piece.original is None else -piece.original,
        )
        if waiting[negated]:
            dropped.add(waiting[negated].pop(0))
            dropped.add(facet)
        else:
            waiting[key].append(facet)
    return tuple(
        Planned(facet=facet, entry=_entry(leg, piece, facet, ctx))
        for facet, leg, piece in due
        if facet not in dropped
    )


def unrecognized(
    legs: Iterable[DeferredLeg],
    *,
    through: date | None,
    view: Literal["books", "units"] = "books",
) -> dict[tuple[str, str, str], Decimal]:
    """Per (entity, deferred account, currency): what the deferred accounts hold once every
    piece due by `through` is recognized (None: nothing recognized yet), debit positive.

    `view="books"` sums the amounts in the books' currency (GnuCash, the SQL ledger);
    `view="units"` sums a converted leg's transaction amount instead, as Beancount holds
    it (`-1200.00 USD @@ -1080.00 EUR`). Accounts that end at zero are kept, with zero.
    """
    sums: dict[tuple[str, str, str], Decimal] = {}
    for leg in legs:
        rest, rest_original = leg.remainder(through)
        shown = rest_original if view == "units" and rest_original is not None else rest
        key = (leg.entity, leg.account, shown.currency)
        sums[key] = sums.get(key, Decimal(0)) + shown.amount
    return sums


_DOCUMENT_FACETS = frozenset({"issue", "void", "credit", "credit-void"})


def expected_deferred(
    records: Iterable[Invoice | CreditNote],
    mapping: Mapping,
    *,
    through: date | None,
    view: Literal["books", "units"] = "books",
    connection: str = "stripe",
) -> dict[tuple[str, str, str], Decimal]:
    """What the deferred accounts must hold once `records` are posted and every piece due
    by `through` is recognized: `unrecognized` of their documents, planned here.

    A record the rules refuse (an unmapped tax rate, a missing rate) posts nothing and
    adds nothing. Credit notes find their invoices among `records`.
    """
    values = list(records)
    invoices = {v.id: v for v in values if isinstance(v, Invoice)}
    documents: list[Document] = []
    for value in values:
        kind = "invoice" if isinstance(value, Invoice) else "credit_note"
        ctx = Context(
            flow="expected",
            connection=connection,
            record=f"{connection}:{kind}:{value.id}",
            version="",
            invoice=invoices.get,
        )
        plan = plan_entries(value, mapping, ctx)
        if plan.problems and not plan.entries:
            continue
        documents.extend(
            Document(name=f"{value.id}:{item.facet}", label="", entry=item.entry)
            for item in plan.entries
            if item.facet in _DOCUMENT_FACETS
        )
    return unrecognized(deferred_legs(documents), through=through, view=view)
