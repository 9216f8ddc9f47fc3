"""A sync killed (SIGKILL) right after a write, in either direction, resumes with nothing
written twice: not in Stripe (localstripe), not in BottleCRM.

The process is really killed at the named crashpoint `after-write` (engine/crashpoints.py),
after the write landed and before the state store recorded it. The next sync must find
the write by our key (look-up before create), or see both sides already agree (a
two-way field), and record it instead of writing again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import stripe

from billbridge.store import open_store
from tests.crm_server import CrmServer

from ._loop import crm_account, loop_workspace, ok, pay_by_card, plans, stripe_customers
from ._workspace import cli, crm_env

pytestmark = [pytest.mark.crm, pytest.mark.slow]


def billbridge(root: Path, env: dict[str, str], *args: str, crash: str = "") -> Any:
    full = {**os.environ, **env, **({"BILLBRIDGE_CRASH_AT": crash} if crash else {})}
    done = subprocess.run(
        [sys.executable, "-m", "billbridge", "-w", str(root), *args, "--json"],
        env=full, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if crash:
        assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
        return None
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_a_sync_killed_after_each_write_resumes_without_writing_twice(
    tmp_path: Path, crm: CrmServer, localstripe: str, stripe_client: stripe.StripeClient
) -> None:
    plans(stripe_client)
    ok(crm.api("POST", "/api/custom-fields/", {"target_model": "Opportunity", "key": "plan",
                                               "label": "Plan", "field_type": "text"}))  # fmt: skip
    account, _ = crm_account(crm, "Hooli", "billing@hooli.example")
    root = loop_workspace(tmp_path / "ws", crm, localstripe)
    env = crm_env(crm)

    # 1. The customer's create in Stripe, killed before its commit.
    billbridge(root, env, "sync", "crm-to-stripe", crash="after-write:1")
    assert len(stripe_customers(stripe_client)[f"crm:customer:{account}"]) == 1
    assert billbridge(root, env, "sync", "crm-to-stripe")["posted"] == 0  # found, not created
    (customer,) = stripe_customers(stripe_client)[f"crm:customer:{account}"]
    pay_by_card(stripe_client, customer["id"])

    # 2. The subscription's create, killed before its commit.
    deal = ok(crm.api("POST", "/api/opportunities/", {
        "name": "Hooli hosting", "account": account, "amount": "49.00", "currency": "EUR",
        "stage": "CLOSED_WON", "closed_on": "2026-01-05",
        "custom_fields": {"plan": "pro"}}))["id"]  # fmt: skip
    billbridge(root, env, "sync", "crm-to-stripe", crash="after-write:1")
    again = billbridge(root, env, "sync", "crm-to-stripe")
    assert again["posted"] == 0 and again["counts"]["failed"] == 0
    subs = stripe_client.v1.subscriptions.list(params={"customer": customer["id"]}).data
    assert [s.metadata["billbridge_key"] for s in subs] == [f"crm:deal:{deal}"]

    # 3. The write-back of the invoice to the CRM (invoice and payment), killed.
    billbridge(root, env, "sync", "--backfill", "stripe-to-books")
    billbridge(root, env, "sync", "stripe-to-crm", crash="after-write:1")
    again = billbridge(root, env, "sync", "stripe-to-crm")
    assert again["posted"] == 0 and again["counts"]["failed"] == 0
    invoices = ok(crm.api("GET", f"/api/invoices/?account={account}"))["results"]
    assert [(i["status"], i["amount_paid"]) for i in invoices] == [("Paid", "49.00")]
    payments = ok(crm.api("GET", f"/api/invoices/{invoices[0]['id']}/payments/"))
    assert len(payments) == 1

    # 4. A two-way field propagated to Stripe, killed before the bases moved.
    ok(crm.api("PUT", f"/api/accounts/{account}/", {"name": "Hooli Inc"}))
    billbridge(root, env, "sync", "crm-to-stripe", crash="after-write:1")
    assert billbridge(root, env, "sync", "crm-to-stripe")["posted"] == 0
    assert billbridge(root, env, "sync", "stripe-to-crm")["posted"] == 0
    events = stripe_client.v1.events.list(params={"limit": 100}).data
    renames = [
        e for e in events
        if e.type == "customer.updated" and e.data.object["id"] == customer["id"]
        and e.data.object["name"] == "Hooli Inc"
    ]  # fmt: skip
    assert len(renames) == 1
    store = open_store(root / ".billbridge" / "state.db")
    try:
        written = [(a.record_key.split(":")[1], a.diff["how"][1])
                   for a in store.audit_rows() if a.action == "written"]  # fmt: skip
        # the subscription and the CRM invoice: found by our key, not created again; the
        # customer: found by our key and linked (both sides agree: nothing to write)
        assert written == [("deal", "found"), ("invoice", "found")]
        linked = [a.record_key for a in store.audit_rows() if a.action == "linked"]
        assert linked == [f"crm:customer:{account}"]
        assert store.verify_audit().ok
    finally:
        store.close()
    assert cli(root, env, "queue") == (0, [])
