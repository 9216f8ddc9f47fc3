"""`billbridge stripe mark-paid | void | push-customer` end to end against localstripe.

The workspace's Stripe connection points at localstripe (or at the dropping proxy in
front of it). What is checked is what a person and Stripe see: the invoice's status in
Stripe, how many customers carry the record key, the exit code, the queue row, the audit
row, and that a repeated request sends nothing (the second run's connection points at a
closed port, so any request would fail). localstripe's additions (`Request-Id`,
`paid_out_of_band`) are described in localstripe_main.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import stripe
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.store import open_store

from ._data import CARD
from ._proxy import dropping_proxy
from .conftest import TEST_KEY

RECORD_KEY = "crm:customer:42"
GLOBEX = {
    "name": "Globex Corp",
    "email": "ap@globex.example",
    "phone": "+49 30 1234567",
    "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}],
    "metadata": {"billbridge_key": RECORD_KEY, "crm_owner": "ana"},
}


def _workspace(root: Path, api_base: str, *, mode: str = "sandbox") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "billbridge.yaml").write_text(
        "connections:\n"
        "  stripe:\n"
        "    connector: stripe\n"
        f"    mode: {mode}\n"
        "    api_key: ${STRIPE_API_KEY}\n"
        f"    api_base: {api_base}\n"
        "flows: []\n"
    )
    return root


def _point_at(root: Path, api_base: str) -> None:
    config = root / "billbridge.yaml"
    lines = [
        f"    api_base: {api_base}" if line.startswith("    api_base:") else line
        for line in config.read_text().splitlines()
    ]
    config.write_text("\n".join(lines) + "\n")


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _cli(root: Path, *args: str, key: str = TEST_KEY, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(
        app,
        ["stripe", args[0], "-w", str(root), *args[1:]],
        env={"STRIPE_API_KEY": key, "BILLBRIDGE_ACTOR": "tester"},
        input=stdin,
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _json(result: Any) -> Any:
    return orjson.loads(result.stdout)


def _open_invoice(client: stripe.StripeClient) -> str:
    """An open invoice: a subscription whose first payment was declined."""
    cus = client.v1.customers.create(params={"name": "Declined", "email": "d@example.com"})
    pm = client.v1.payment_methods.create(
        params={"type": "card", "card": {**CARD, "number": "4000000000000341"}}  # type: ignore[typeddict-item]
    )
    client.v1.payment_methods.attach(pm.id, params={"customer": cus.id})
    client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    product = client.v1.products.create(params={"name": "Hosting"})
    plan = client.v1.plans.create(
        params={"product": product.id, "amount": 900, "currency": "eur", "interval": "month"}
    )
    with contextlib.suppress(stripe.CardError):
        client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"plan": plan.id}]})
    (invoice,) = client.v1.invoices.list(params={"customer": cus.id}).data
    assert invoice.status == "open"
    return invoice.id


def _customers_with_key(client: stripe.StripeClient, key: str = RECORD_KEY) -> list[Any]:
    listed = client.v1.customers.list(params={"limit": 100}).data
    return [c for c in listed if (c.to_dict().get("metadata") or {}).get("billbridge_key") == key]


def _audit(root: Path, key: str) -> list[Any]:
    store = open_store(root / ".billbridge" / "state.db")
    try:
        return store.audit_rows(record_key=key)
    finally:
        store.close()


def _queue(root: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        app, ["queue", "-w", str(root), "--json"], env={"STRIPE_API_KEY": TEST_KEY}
    )
    assert result.exit_code == 0, result.output
    return list(orjson.loads(result.stdout))


# ---------------------------------------------------------------- invoices


def test_mark_paid_marks_the_invoice_paid_out_of_band_once(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    invoice = _open_invoice(stripe_client)
    root = _workspace(tmp_path / "ws", localstripe)

    first = _cli(root, "mark-paid", invoice, "--json")
    assert first.exit_code == 0, first.output
    done = _json(first)
    assert done["status"] == "done"
    assert done["how"] == "updated"
    assert done["object_status"] == "paid"
    assert done["record"] == f"stripe:invoice:{invoice}"
    fetched = stripe_client.v1.invoices.retrieve(invoice).to_dict()
    assert fetched["status"] == "paid"
    assert fetched["paid_out_of_band"] is True

    # The same request again sends nothing: the connection now points at a closed port.
    _point_at(root, _closed_port())
    again = _cli(root, "mark-paid", invoice, "--json")
    assert again.exit_code == 0, again.output
    assert _json(again)["status"] == "already-done"
    assert _json(again)["idempotency_key"] == done["idempotency_key"]

    (row,) = [r for r in _audit(root, f"stripe:invoice:{invoice}") if r.action.startswith("wr")]
    assert row.action == "writeback-mark-paid"
    assert row.actor == "tester"
    assert row.diff["idempotency_key"] == [None, done["idempotency_key"]]
    assert row.diff["object"] == [None, invoice]
    assert TEST_KEY not in orjson.dumps(dict(row.diff)).decode()


def test_void_then_human_output(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    invoice = _open_invoice(stripe_client)
    root = _workspace(tmp_path / "ws", localstripe)
    result = _cli(root, "void", invoice)
    assert result.exit_code == 0, result.output
    assert f"invoice {invoice}: voided (status void)" in result.stdout
    assert stripe_client.v1.invoices.retrieve(invoice).status == "void"


def test_voiding_a_paid_invoice_shows_stripes_message_and_request_id_and_queues_it(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    invoice = _open_invoice(stripe_client)
    stripe_client.v1.invoices.pay(invoice, params={"paid_out_of_band": True})
    root = _workspace(tmp_path / "ws", localstripe)

    result = _cli(root, "void", invoice)
    assert result.exit_code == 1
    assert "Bad request" in result.output
    assert "HTTP 400" in result.output
    assert "request req_localstripe" in result.output
    assert "billbridge queue" in result.output
    assert TEST_KEY not in result.output
    assert stripe_client.v1.invoices.retrieve(invoice).status == "paid"

    (row,) = _queue(root)
    assert row["flow"] == "writeback:stripe:void"
    assert row["record"] == f"stripe:invoice:{invoice}"
    assert row["retryable"] is False
    assert "request req_localstripe" in row["error"]
    assert f"billbridge stripe void {invoice} --connection stripe" in row["hint"]
    # `billbridge retry` does not treat it as a flow's record: it names the command instead
    retry = CliRunner().invoke(
        app, ["retry", str(row["id"]), "-w", str(root), "--json"], env={"STRIPE_API_KEY": TEST_KEY}
    )
    assert retry.exit_code == 2
    assert "write-back to Stripe" in orjson.loads(retry.stdout)["error"]
    actions = [r.action for r in _audit(root, f"stripe:invoice:{invoice}")]
    assert actions == ["writeback-failed"]


def test_unknown_invoice_is_a_readable_failure(tmp_path: Path, localstripe: str) -> None:
    root = _workspace(tmp_path / "ws", localstripe)
    result = _cli(root, "mark-paid", "in_doesnotexist", "--json")
    assert result.exit_code == 1
    failed = _json(result)
    assert failed["status"] == "failed"
    assert "Not Found" in failed["error"]
    assert "HTTP 404" in failed["error"]
    assert "request req_localstripe" in failed["error"]
    # a bad id is bad usage: nothing is sent, exit 2
    bad = _cli(root, "mark-paid", "cus_123", "--json")
    assert bad.exit_code == 2
    assert "not a Stripe invoice id" in _json(bad)["error"]


def test_a_failed_row_closes_when_the_write_back_succeeds_later(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    invoice = _open_invoice(stripe_client)
    root = _workspace(tmp_path / "ws", _closed_port())
    down = _cli(root, "mark-paid", invoice, "--json")
    assert down.exit_code == 1
    assert _json(down)["retryable"] is True
    assert [r["flow"] for r in _queue(root)] == ["writeback:stripe:mark-paid"]

    _point_at(root, localstripe)
    up = _cli(root, "mark-paid", invoice, "--json")
    assert up.exit_code == 0, up.output
    assert _json(up)["idempotency_key"] == _json(down)["idempotency_key"]  # same request
    assert _queue(root) == []
    assert stripe_client.v1.invoices.retrieve(invoice).status == "paid"


def test_production_needs_yes(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    invoice = _open_invoice(stripe_client)
    root = _workspace(tmp_path / "ws", localstripe, mode="production")
    live = "sk_live_billbridge_localstripe"
    refused = _cli(root, "void", invoice, "--json", key=live)
    assert refused.exit_code == 2
    assert "--yes" in _json(refused)["error"]
    assert stripe_client.v1.invoices.retrieve(invoice).status == "open"
    confirmed = _cli(root, "void", invoice, "--yes", "--json", key=live)
    assert confirmed.exit_code == 0, confirmed.output
    assert stripe_client.v1.invoices.retrieve(invoice).status == "void"


# ---------------------------------------------------------------- customers


def test_push_customer_twice_creates_one_customer(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    root = _workspace(tmp_path / "ws", localstripe)
    record = tmp_path / "globex.json"
    record.write_bytes(orjson.dumps(GLOBEX))

    first = _cli(root, "push-customer", "--from", str(record), "--json")
    assert first.exit_code == 0, first.output
    (created,) = _json(first)["results"]
    assert created["how"] == "created"
    (customer,) = _customers_with_key(stripe_client)
    assert customer.id == created["object"]
    assert customer.email == "ap@globex.example"
    assert customer.to_dict()["metadata"]["crm_owner"] == "ana"
    tax_ids = stripe_client.v1.customers.tax_ids.list(customer.id).data
    assert [(t.type, t.value) for t in tax_ids] == [("eu_vat", "DE136695976")]

    again = _cli(root, "push-customer", "--from", str(record), "--json")
    assert _json(again)["results"][0]["status"] == "already-done"

    # A changed record updates the same customer (stdin this time).
    changed = {**GLOBEX, "email": "billing@globex.example"}
    stdin = orjson.dumps(changed).decode()
    updated = _cli(root, "push-customer", "--from", "-", "--json", stdin=stdin)
    assert updated.exit_code == 0, updated.output
    assert _json(updated)["results"][0]["how"] == "updated"
    (customer,) = _customers_with_key(stripe_client)
    assert customer.email == "billing@globex.example"

    # A workspace that never saw it (a new state store) finds it by its key: no duplicate.
    other = _workspace(tmp_path / "other", localstripe)
    fresh = _cli(other, "push-customer", "--from", str(record), "--json")
    assert _json(fresh)["results"][0]["how"] == "updated"
    assert len(_customers_with_key(stripe_client)) == 1
    assert len(stripe_client.v1.customers.list(params={"limit": 100}).data) == 1


def test_bad_customer_record_names_the_field_and_sends_nothing(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    root = _workspace(tmp_path / "ws", localstripe)
    cases = [
        ({**GLOBEX, "metadata": {}}, "metadata.billbridge_key"),
        ({**GLOBEX, "card_number": "4242"}, "card_number"),
        ({**GLOBEX, "tax_ids": [{"type": "eu_vat", "value": "DE136695977"}]}, "tax_ids[0].value"),
        ({**GLOBEX, "address": {"country": "Germany"}}, "address.country"),
    ]
    for record, field in cases:
        result = _cli(root, "push-customer", "--from", orjson.dumps(record).decode(), "--json")
        assert result.exit_code == 2, result.output
        assert f"field `{field}`" in _json(result)["error"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n  "email": }')
    result = _cli(root, "push-customer", "--from", str(broken), "--json")
    assert result.exit_code == 2
    assert f"{broken}: line 2" in _json(result)["error"]
    assert stripe_client.v1.customers.list().data == []


def test_dropped_connection_after_create_is_found_not_duplicated(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    with dropping_proxy(localstripe) as proxy:
        root = _workspace(tmp_path / "ws", f"http://127.0.0.1:{proxy.port}")
        proxy.drop_next_response()
        result = _cli(root, "push-customer", "--from", orjson.dumps(GLOBEX).decode(), "--json")
        assert proxy.dropped == 1
    assert result.exit_code == 0, result.output
    (pushed,) = _json(result)["results"]
    assert pushed["how"] == "found"
    assert [c.id for c in _customers_with_key(stripe_client)] == [pushed["object"]]


def test_dropped_connection_after_mark_paid_is_resolved_by_reading_the_invoice(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    invoice = _open_invoice(stripe_client)
    with dropping_proxy(localstripe) as proxy:
        root = _workspace(tmp_path / "ws", f"http://127.0.0.1:{proxy.port}")
        proxy.drop_next_response()
        result = _cli(root, "mark-paid", invoice, "--json")
        assert proxy.dropped == 1
    assert result.exit_code == 0, result.output
    assert _json(result)["how"] == "found"
    assert stripe_client.v1.invoices.retrieve(invoice).status == "paid"


@pytest.mark.slow
def test_killed_after_sending_the_next_run_looks_up_before_creating(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    """The process dies after Stripe created the customer, before billbridge recorded it."""
    root = _workspace(tmp_path / "ws", localstripe)
    record = tmp_path / "globex.json"
    record.write_bytes(orjson.dumps(GLOBEX))
    env = {**os.environ, "STRIPE_API_KEY": TEST_KEY, "BILLBRIDGE_ACTOR": "tester"}
    args = [sys.executable, "-m", "billbridge", "stripe", "push-customer", "-w", str(root),
            "--from", str(record), "--json"]  # fmt: skip
    killed = subprocess.run(
        args, env={**env, "BILLBRIDGE_CRASH_AT": "writeback-after-send"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert len(_customers_with_key(stripe_client)) == 1

    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stderr
    (pushed,) = orjson.loads(rerun.stdout)["results"]
    assert pushed["how"] == "found"
    assert [c.id for c in _customers_with_key(stripe_client)] == [pushed["object"]]
