"""No record is held forever (issue 13, finding 3), whole CLI runs on both stores.

A hold waits for something that will come: a record it needs to arrive (a charge's
balance transaction) or a record it depends on to post (a payment's invoice). It is
tried again when that record arrives or posts; when nothing comes within the flow's
`hold_timeout`, the next run turns it into a failed row that says what it waited for,
since when, and what to do, and it still posts by itself if the record comes later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from billbridge.connectors.beancount import posted_keys
from billbridge.samples import write_jsonl
from billbridge.store import open_store

from .conftest import Workspace
from .test_sync_flow import FAULTS, expected_facets


def _charge_with_invoice(records: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """A succeeded charge whose invoice has nothing else waiting on it, and that invoice."""
    busy = {r.get("invoice") for r in records if r["object"] == "credit_note"}
    busy |= {r.get("payment_intent") for r in records if r["object"] == "refund"}
    for pay in (r for r in records if r["object"] == "invoice_payment"):
        intent = pay["payment"].get("payment_intent")
        if pay["invoice"] in busy or intent in busy or "fault" in pay["invoice"]:
            continue
        charge = next(
            r for r in records if r["object"] == "charge" and r["payment_intent"] == intent
        )
        return charge, pay["invoice"]
    raise AssertionError("no plain paid invoice in the sample")


def _age_holds(ws: Workspace, ago: timedelta) -> None:
    """Move every hold's start `ago` back, as if that much time had passed."""
    store = open_store(ws.state_url)
    try:
        then = store._ts(datetime.now(UTC) - ago)  # type: ignore[attr-defined]
    finally:
        store.close()
    mark = "?" if ws.state_url.startswith("sqlite") else "%s"
    sql = f"UPDATE exceptions SET held_since = {mark}, first_seen = {mark} WHERE kind = 'held'"
    if ws.state_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(ws.state_url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql, (then, then))
    else:
        import psycopg

        from billbridge.store._postgres import split_schema

        conninfo, schema = split_schema(ws.state_url)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(sql, (then, then))


def test_a_charge_read_before_its_balance_transaction_posts_in_the_same_run(
    workspace: Workspace,
) -> None:
    records = workspace.records()
    charge = next(r for r in records if r["object"] == "charge" and r["status"] == "succeeded")
    txn = next(r for r in records if r["id"] == charge["balance_transaction"])
    records.remove(txn)
    write_jsonl(workspace.export, [*records, txn])  # the balance transaction comes last
    code, run = workspace.cli("sync")
    assert code == 1, run  # the sample's deliberate faults
    assert run["counts"]["held"] == 0
    _, queue = workspace.cli("queue")
    assert {item["record"] for item in queue} == set(FAULTS)
    counts = posted_keys(workspace.ledger)
    assert counts[f"stripe-to-books|stripe:charge:{charge['id']}|payment"] == 1
    assert set(counts) == expected_facets(records)
    assert set(counts.values()) == {1}


def test_a_hold_past_its_timeout_becomes_a_readable_failed_row(workspace: Workspace) -> None:
    records = workspace.records()
    charge, invoice_id = _charge_with_invoice(records)
    invoice = next(r for r in records if r["id"] == invoice_id)
    write_jsonl(workspace.export, [r for r in records if r is not invoice])
    key, waiting_on = f"stripe:charge:{charge['id']}", f"stripe:invoice:{invoice_id}"

    code, _ = workspace.cli("sync")
    assert code == 1
    _, queue = workspace.cli("queue")
    (held,) = [item for item in queue if item["record"] == key]
    assert (held["kind"], held["waiting_on"]) == ("held", waiting_on)

    code, run = workspace.cli("sync")  # within the timeout: still held, nothing new
    assert run["counts"]["held"] == 0 and run["counts"]["failed"] == 0
    _age_holds(workspace, timedelta(days=4))  # past the default hold_timeout of 3 days
    code, run = workspace.cli("sync")
    assert code == 1, run
    assert run["counts"]["failed"] == 1
    _, queue = workspace.cli("queue")
    (row,) = [item for item in queue if item["record"] == key]
    assert row["kind"] == "failed" and row["field"] == "waiting_on"
    assert row["waiting_on"] == waiting_on
    assert row["error"].startswith(f"waiting for invoice {invoice_id} to be posted since ")
    assert "hold timeout of flow 'stripe-to-books' (3 days)" in row["error"]
    assert f"{waiting_on} never arrived or never posted" in row["error"]
    assert "billbridge queue dismiss ID" in row["hint"] and "hold_timeout:" in row["hint"]
    assert not any(item["kind"] == "held" for item in queue)

    code, again = workspace.cli("sync")  # applied once: the next run has nothing to time out
    assert again["counts"]["failed"] == 0
    code, _ = workspace.cli("retry", "--all")  # still nothing to wait for: fails the same way
    _, queue = workspace.cli("queue")
    (row,) = [item for item in queue if item["record"] == key]
    assert row["kind"] == "failed" and "never arrived" in row["error"]

    write_jsonl(workspace.export, records)  # the invoice comes after all
    code, run = workspace.cli("sync")
    _, queue = workspace.cli("queue")
    assert {item["record"] for item in queue} == set(FAULTS)
    counts = posted_keys(workspace.ledger)
    assert counts[f"stripe-to-books|{key}|payment"] == 1
    assert set(counts) == expected_facets(records)
    assert set(counts.values()) == {1}


def test_hold_timeout_is_a_flow_setting(workspace: Workspace) -> None:
    config = workspace.root / "billbridge.yaml"
    flows = config.read_text().replace("    mapping:", "    hold_timeout: 2h\n    mapping:")
    config.write_text(flows)
    records = workspace.records()
    charge, invoice_id = _charge_with_invoice(records)
    write_jsonl(workspace.export, [r for r in records if r["id"] != invoice_id])
    workspace.cli("sync")
    _age_holds(workspace, timedelta(hours=1))
    _, run = workspace.cli("sync")
    assert run["counts"]["failed"] == 0  # within 2 hours: still held
    _age_holds(workspace, timedelta(hours=3))
    _, run = workspace.cli("sync")
    assert run["counts"]["failed"] == 1
    _, queue = workspace.cli("queue")
    (row,) = [i for i in queue if i["record"] == f"stripe:charge:{charge['id']}"]
    assert "hold timeout of flow 'stripe-to-books' (2 hours)" in row["error"]

    config.write_text(flows.replace("hold_timeout: 2h", "hold_timeout: 3 days"))
    code, answer = workspace.cli("sync")
    assert code == 2
    assert "flows[0].hold_timeout" in answer["error"]
    assert "write a number and s, m, h or d (3d, 12h)" in answer["error"]
