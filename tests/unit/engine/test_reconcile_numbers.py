"""Reconcile's invoice-number checks on hand-made views: who holds a number, what a gap is.

The e2e tests make each case through the CLI; these pin the rules: the store's claim
outranks source order, numbers of unroutable invoices fill gaps but never duplicate,
entities do not mix, and a gap is never queued nor counted as unowned.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from billbridge.connectors.base import LedgerLeg, LedgerPosting
from billbridge.engine.numbers import find_gaps, number_like, series_of
from billbridge.engine.reconcile import (
    LedgerView,
    NumberSeen,
    PostedView,
    Reconciled,
    SourceView,
    Views,
    compare,
    number_duplicates,
    repeats,
    unowned,
)

FLOW = "f"


def seen(ident: str, number: str, entity: str = "default") -> NumberSeen:
    series, seq = series_of(number)
    return NumberSeen(
        record_key=f"stripe:invoice:{ident}", entity=entity, series=series, number=number, seq=seq
    )


def views(
    source: list[NumberSeen],
    claims: list[NumberSeen] | None = None,
    *,
    queued: frozenset[str] = frozenset(),
    ledger: tuple[LedgerPosting, ...] = (),
) -> Views:
    return Views(
        flow=FLOW,
        source=SourceView(
            connection="stripe",
            expected={},
            records=frozenset(n.record_key for n in source),
            numbers=tuple(source),
        ),
        posted=PostedView(postings={}, queued=queued, numbers=tuple(claims or ())),
        ledger=LedgerView(target="books", postings=ledger),
    )


def test_the_store_claim_holds_the_number_whatever_the_source_order() -> None:
    new, old = seen("in_new", "INV-7"), seen("in_old", "INV-7")
    assert repeats([new, old], []) == [(old, new.record_key)]  # no claim: first in source
    assert repeats([new, old], [old]) == [(new, old.record_key)]
    # the holder left the source (or was renumbered): the record carrying it now repeats it
    assert repeats([new], [old]) == [(new, old.record_key)]
    assert repeats([old], [old]) == []  # a record never repeats its own number


def test_numbers_of_unroutable_invoices_and_other_entities_are_no_duplicates() -> None:
    assert repeats([seen("a", "INV-1", ""), seen("b", "INV-1", "")], []) == []
    assert repeats([seen("a", "INV-1", "de"), seen("b", "INV-1", "us")], []) == []


def test_a_duplicate_names_both_records_and_where_the_holder_posted() -> None:
    issue = LedgerPosting(
        idempotency_key=f"{FLOW}|stripe:invoice:in_a|issue",
        record_key="stripe:invoice:in_a",
        ref="billbridge.beancount:12",
        date=date(2024, 5, 1),
        links=("in_a",),
        legs=(LedgerLeg(account="Assets:Receivable", amount=Decimal(1), currency="EUR"),),
    )
    numbers = [seen("in_a", "INV-1"), seen("in_b", "INV-1")]
    (d,) = compare(views(numbers, ledger=(issue,)), checks=[number_duplicates])
    assert (d.kind, d.fix, d.owner, d.record_key) == (
        "number_duplicate",
        "queue",
        "stripe",
        "stripe:invoice:in_b",
    )
    assert d.source_ref == "stripe:invoice:in_a, stripe:invoice:in_b"
    assert d.target_ref == "billbridge.beancount:12"
    assert d.target_value == "stripe:invoice:in_a posted (billbridge.beancount:12)"
    assert "stripe:invoice:in_a" in d.detail and "stripe:invoice:in_b" in d.detail
    assert "never renumbers" in d.hint


def test_a_gap_lists_its_missing_numbers_and_neighbours_from_source_and_store() -> None:
    source = [seen("in_1", "INV-0001"), seen("in_5", "INV-0005")]
    claims = [seen("in_2", "INV-0002")]  # seen earlier, no longer exported: not a gap
    (gap,) = compare(views(source, claims))
    assert (gap.kind, gap.fix, gap.owner, gap.record_key) == (
        "number_gap",
        "none",
        "stripe",
        "stripe:invoice:in_5",
    )
    assert gap.extra["missing"] == ["INV-0003", "INV-0004"]
    assert gap.extra["after"] == {"number": "INV-0002", "record_key": "stripe:invoice:in_2"}
    assert gap.idempotency_key == f"{FLOW}|default:INV-|gap-3-4"
    assert "INV-0003, INV-0004 missing" in gap.source_value


def test_a_long_gap_is_summarized_and_its_list_capped() -> None:
    (gap,) = compare(views([seen("a", "HB-0001"), seen("b", "HB-0200")]))
    assert "HB-0002 … HB-0199 (198 numbers)" in gap.source_value
    assert gap.extra["missing_count"] == 198
    assert len(gap.extra["missing"]) == 50 and gap.extra["missing"][-1] == "HB-0051"


def test_an_unroutable_invoice_fills_its_number_and_entities_do_not_mix() -> None:
    loose = seen("in_bad", "INV-2", entity="")  # fails normalization, number still issued
    source = [seen("a", "INV-1", "de"), loose, seen("b", "INV-3", "de"), seen("c", "INV-2", "us")]
    assert compare(views(source)) == []
    gaps = compare(views([seen("a", "INV-1", "de"), seen("b", "INV-3", "us")]))
    assert gaps == []  # one number per entity: nothing between


def test_a_gap_is_never_queued_and_never_unowned() -> None:
    source = [seen("in_1", "INV-1"), seen("in_3", "INV-3")]
    (gap,) = compare(views(source, queued=frozenset({"stripe:invoice:in_3"})))
    assert not gap.queued
    assert unowned(Reconciled(flow=FLOW, discrepancies=[gap])) == 0
    (dup,) = compare(
        views(
            [seen("in_1", "INV-1"), seen("in_x", "INV-1")],
            queued=frozenset({"stripe:invoice:in_x"}),
        )
    )
    assert dup.queued


def test_gap_arithmetic() -> None:
    assert number_like("HB-0042", 7) == "HB-0007"
    assert number_like("42", 7) == "07"
    gaps = find_gaps("e", "S", [(5, "S5", "r5"), (1, "S1", "r1"), (1, "S01", "x"), (2, "S2", "r2")])
    assert [(g.after, g.before, g.missing, g.count) for g in gaps] == [("S2", "S5", (3, 4), 2)]
    assert (gaps[0].after_record, gaps[0].before_record) == ("r2", "r5")
