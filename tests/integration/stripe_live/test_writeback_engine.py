"""`engine.writeback.write_back` on both state stores, against localstripe.

The CLI tests show the commands; these show the store's side of the promises: one row
per request, `pending` before sending, the same key until Stripe refuses, a new key
after a refusal (Stripe would replay the refusal for 24 hours), the queue row opened and
closed, the audit row without the API key.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import stripe

from billbridge.connectors.base import FatalError
from billbridge.connectors.stripe_api import StripeApi, StripeWriteBack
from billbridge.engine.writeback import invoice_request, write_back
from billbridge.engine.writeback_input import customer_request
from billbridge.store import Store, open_store

from .conftest import TEST_KEY
from .test_cli_writeback import GLOBEX, RECORD_KEY, _open_invoice


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def _wb(base: str, key: str = TEST_KEY) -> StripeWriteBack:
    return StripeWriteBack(StripeApi(api_key=key, api_base=base, timeout=5, attempts=1))


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_request_is_done_once_and_audited(
    store: Store, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    request = customer_request("stripe", GLOBEX)
    first = write_back(store, _wb(localstripe), request, actor="ana")
    assert (first.status, first.how, first.attempt) == ("done", "created", 1)
    again = write_back(store, _wb(_closed_port()), request, actor="ana")  # would fail if sent
    assert again.status == "already-done"
    assert again.object_id == first.object_id
    (row,) = store.writebacks_for(RECORD_KEY)
    assert (row.status, row.object_id, row.idempotency_key) == (
        "done",
        first.object_id,
        first.idempotency_key,
    )
    (audit,) = store.audit_rows(record_key=RECORD_KEY)
    assert audit.action == "writeback-push-customer"
    assert audit.actor == "ana"
    assert audit.diff["how"] == [None, "created"]
    assert TEST_KEY not in str(audit.diff)
    assert store.verify_audit().ok


def test_unanswered_request_stays_pending_and_keeps_its_key(
    store: Store, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    request = customer_request("stripe", GLOBEX)
    down = write_back(store, _wb(_closed_port()), request, actor="ana")
    assert (down.status, down.retryable) == ("failed", True)
    (row,) = store.writebacks_for(RECORD_KEY)
    assert row.status == "pending"  # it may have landed: the next attempt looks first
    (queued,) = store.open_exceptions()
    assert (queued.flow, queued.retryable) == ("writeback:stripe:push-customer", True)

    up = write_back(store, _wb(localstripe), request, actor="ana")
    assert up.status == "done"
    assert up.idempotency_key == down.idempotency_key
    assert store.open_exceptions() == []
    assert [e.status for e in store.exceptions_for(RECORD_KEY)] == ["closed"]


def test_a_refusal_gets_a_new_key_next_time(
    store: Store, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    invoice = _open_invoice(stripe_client)
    stripe_client.v1.invoices.pay(invoice, params={"paid_out_of_band": True})
    request = invoice_request("stripe", "void", invoice)
    first = write_back(store, _wb(localstripe), request, actor="ana")
    second = write_back(store, _wb(localstripe), request, actor="ana")
    assert (first.status, first.retryable, first.attempt) == ("failed", False, 1)
    assert (second.status, second.attempt) == ("failed", 2)
    assert second.idempotency_key != first.idempotency_key
    (row,) = store.writebacks_for(f"stripe:invoice:{invoice}")
    assert (row.status, row.attempt) == ("failed", 2)
    (queued,) = store.open_exceptions()
    assert queued.attempts == 2


def test_refused_credentials_stop_and_are_recorded(store: Store, localstripe: str) -> None:
    """localstripe answers 401 to anything but an `sk_` key: a restricted key will do."""
    request = invoice_request("stripe", "mark-paid", "in_123")
    with pytest.raises(FatalError, match="HTTP 401") as raised:
        write_back(store, _wb(localstripe, key="rk_test_refused_key"), request, actor="ana")
    assert "rk_test_refused_key" not in str(raised.value)
    (row,) = store.writebacks_for("stripe:invoice:in_123")
    assert row.status == "failed"
    assert "rk_test_refused_key" not in row.error
    assert store.open_exceptions() == []  # configuration, not a record: no queue row
