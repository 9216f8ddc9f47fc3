"""Invoice numbers in the store (migration 0004), on both backends, and the gap report."""

from __future__ import annotations

import pytest

from billbridge.engine.numbers import BatchOwners, gaps, series_report
from billbridge.store import NumberWindow, Store, open_store

from .conftest import at, raw


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


def test_a_window_holds_the_numbers_from_one_on(store: Store) -> None:
    for n in (1, 2, 5, 9, 10):
        _claim(store, f"A-{n}", f"s:invoice:a{n}")
    _claim(store, "A-3", "s:invoice:uk3", entity="uk")
    window = store.invoice_number_window(entity="de", series="A-", number="A-2", limit=2)
    # "A-10" sorts before "A-2": text in code point order (Python's), not numbers
    assert window == NumberWindow(
        owners={"A-2": "s:invoice:a2", "A-5": "s:invoice:a5"}, first="A-2", last="A-5"
    )
    assert (window.covers("A-3"), window.covers("A-6"), window.covers("A-10")) == (
        True, False, False,
    )  # fmt: skip
    rest = store.invoice_number_window(entity="de", series="A-", number="A-6", limit=2)
    assert rest == NumberWindow(owners={"A-9": "s:invoice:a9"}, first="A-6", last=None)
    assert rest.covers("A-99999")


@pytest.mark.postgres
def test_postgres_orders_numbers_by_code_point_whatever_the_database_collation(
    pg_url: str,
) -> None:
    """The window is Python's str order only because the column is COLLATE "C" (0120):
    a database created with a linguistic collation ("a-3" between "A-2" and "A-4") must
    not change it."""
    opened = open_store(pg_url)
    try:
        with raw(opened) as conn:
            (collation,) = conn.execute(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'invoice_numbers' "
                "AND column_name = 'number'"
            ).fetchone()
    finally:
        opened.close()
    assert collation == "C"


@pytest.mark.parametrize("window", [1, 2, 32])
def test_batch_owners_answer_as_the_store_does(
    store: Store, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed = ["A-1", "A-2", "A-5", "A-10", "A-11", "A-9", "a-3", "A-\u00e9", "A-\U0001f600"]
    for i, number in enumerate(claimed):
        _claim_text(store, number, f"s:invoice:{i}")
    probes = ["A-0", "A-3", "A-4", "A-6", "A-12", "A-", "A-99", "B-1", "A-\u00e8", "A-\uffff", "",
              "A-10 "]  # fmt: skip
    if store.dialect == "sqlite":  # PostgreSQL text cannot hold NUL
        probes.append("A-1\x00")
    probes += claimed
    monkeypatch.setattr(BatchOwners, "WINDOW", window)
    for order in (probes, sorted(probes), sorted(probes, reverse=True)):
        owners = BatchOwners(store)
        for number in order:
            for entity in ("de", "uk"):
                expected = store.invoice_number_owner(entity=entity, series="A-", number=number)
                assert owners.invoice_number_owner(
                    entity=entity, series="A-", number=number
                ) == expected, (entity, number)  # fmt: skip


def test_batch_owners_read_once_for_new_numbers_in_order(store: Store) -> None:
    reads: list[str] = []

    class Counting:
        def invoice_number_window(self, **kw: object) -> NumberWindow:
            reads.append(str(kw["number"]))
            return store.invoice_number_window(**kw)  # type: ignore[arg-type]

    _claim(store, "A-0001", "s:invoice:old")
    owners = BatchOwners(Counting())  # type: ignore[arg-type]
    assert owners.invoice_number_owner(entity="de", series="A-", number="A-0001") == (
        "s:invoice:old"
    )
    for n in range(2, 50):
        assert owners.invoice_number_owner(entity="de", series="A-", number=f"A-{n:04d}") is None
    assert len(reads) == 1
    owners.forget()
    owners.invoice_number_owner(entity="de", series="A-", number="A-0002")
    assert reads[-1] == "A-0002"


def _claim_text(store: Store, number: str, record: str, *, entity: str = "de") -> None:
    store.claim_invoice_number(
        entity=entity, series="A-", number=number, seq=None, record_key=record, at=at(1)
    )
