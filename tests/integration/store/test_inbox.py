"""The Stripe webhook inbox on both backends: dedupe by event id, pending order, marks."""

from __future__ import annotations

from billbridge.store import Store


def _add(store: Store, event_id: str, created: int, key: str = "stripe:invoice:in_1") -> bool:
    return store.inbox_add(
        event_id=event_id,
        connection="stripe",
        type="invoice.updated",
        object_key=key,
        created=created,
        payload=b'{"id": "%s"}' % event_id.encode(),
    )


def test_an_event_id_is_stored_once(store: Store) -> None:
    assert _add(store, "evt_1", 100) is True
    assert _add(store, "evt_1", 100) is False
    assert [r.event_id for r in store.inbox_pending("stripe")] == ["evt_1"]
    row = store.inbox_get("evt_1")
    assert row is not None
    assert (row.status, row.created, row.payload) == ("pending", 100, b'{"id": "evt_1"}')


def test_pending_oldest_first_and_marks(store: Store) -> None:
    _add(store, "evt_b", 200)
    _add(store, "evt_a", 100)
    _add(store, "evt_c", 150, key="stripe:invoice:in_2")
    _add(store, "evt_other", 50, key="stripe:invoice:in_3")
    assert [r.event_id for r in store.inbox_pending("stripe", limit=3)] == [
        "evt_other",
        "evt_a",
        "evt_c",
    ]
    assert store.inbox_pending("another") == []
    assert store.inbox_newest_applied("stripe:invoice:in_1") is None
    store.inbox_mark("evt_b", "processed")
    store.inbox_mark("evt_a", "stale")
    assert store.inbox_newest_applied("stripe:invoice:in_1") == 200
    assert [r.event_id for r in store.inbox_pending("stripe")] == ["evt_other", "evt_c"]


def test_each_flow_has_its_own_copy_of_an_event(store: Store) -> None:
    def add(event_id: str, flows: tuple[str, ...]) -> bool:
        return store.inbox_add(
            event_id=event_id,
            connection="stripe",
            type="invoice.updated",
            object_key="stripe:invoice:in_1",
            created=100,
            payload=b"{}",
            flows=flows,
        )

    assert add("evt_1", ("books", "export")) is True
    assert add("evt_1", ("books", "export")) is False  # a redelivery, to either endpoint
    assert [r.flow for r in store.inbox_pending("stripe")] == ["books", "export"]
    store.inbox_mark("evt_1", "processed", flow="books")
    assert store.inbox_pending("stripe", flow="books") == []
    assert [r.event_id for r in store.inbox_pending("stripe", flow="export")] == ["evt_1"]
    assert store.inbox_newest_applied("stripe:invoice:in_1", flow="books") == 100
    assert store.inbox_newest_applied("stripe:invoice:in_1", flow="export") is None
    row = store.inbox_get("evt_1")  # without a flow: the copy still pending comes first
    assert row is not None and (row.flow, row.status) == ("export", "pending")


def test_a_row_stored_before_flows_goes_to_the_first_flow_that_takes_it(store: Store) -> None:
    _add(store, "evt_old", 100)  # flows=("",): what migration 0007 made of older rows
    assert [r.event_id for r in store.inbox_pending("stripe", flow="books")] == ["evt_old"]
    assert [r.event_id for r in store.inbox_pending("stripe", flow="export")] == ["evt_old"]
    store.inbox_mark("evt_old", "processed", flow="books")
    assert store.inbox_pending("stripe", flow="export") == []
