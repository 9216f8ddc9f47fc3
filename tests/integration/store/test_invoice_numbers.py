"""Invoice numbers in the store (migration 0004), on both backends, and the gap report."""

from __future__ import annotations

from billbridge.engine.numbers import gaps, series_report
from billbridge.store import Store

from .conftest import at


def _claim(store: Store, number: str, record: str, *, entity: str = "de") -> str:
    series, seq = number.rsplit("-", 1)
    return store.claim_invoice_number(
        entity=entity, series=series + "-", number=number, seq=int(seq), record_key=record,
        at=at(1),
    )  # fmt: skip


def test_first_record_keeps_the_number_and_a_replay_is_not_a_duplicate(store: Store) -> None:
    assert _claim(store, "A-1", "s:invoice:in_1") == "s:invoice:in_1"
    assert _claim(store, "A-1", "s:invoice:in_1") == "s:invoice:in_1"  # idempotent
    assert _claim(store, "A-1", "s:invoice:in_2") == "s:invoice:in_1"  # the duplicate
    assert _claim(store, "A-1", "s:invoice:in_3", entity="uk") == "s:invoice:in_3"  # per entity
    assert store.invoice_number_owner(entity="de", series="A-", number="A-1") == "s:invoice:in_1"
    assert store.invoice_number_owner(entity="de", series="A-", number="A-9") is None


def test_gaps_are_reported_per_entity_and_series(store: Store) -> None:
    for n in (1, 2, 5, 6, 9):
        _claim(store, f"A-{n}", f"s:invoice:a{n}")
    for n in (1, 2):
        _claim(store, f"B-{n}", f"s:invoice:b{n}")
    _claim(store, "A-3", "s:invoice:uk3", entity="uk")
    found = [(g.entity, g.series, g.after, g.before, g.missing) for g in gaps(store)]
    assert found == [("de", "A-", "A-2", "A-5", (3, 4)), ("de", "A-", "A-6", "A-9", (7, 8))]
    (report,) = [r for r in series_report(store, entity="de") if r.series == "B-"]
    assert (report.count, report.first, report.last, report.gaps) == (2, "B-1", "B-2", ())
    assert [r.entity for r in series_report(store, entity="uk")] == ["uk"]
