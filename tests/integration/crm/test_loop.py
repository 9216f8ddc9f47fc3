"""The loop end to end: a deal won in BottleCRM becomes a Stripe subscription, an invoice
and a payment in the books, and the invoice's status back in the CRM, with no handoff.

Real systems: BottleCRM (its own process), localstripe (creates and charges the
subscription's invoices), a Beancount ledger, billbridge's CLI. localstripe sends no
charge events, so the Stripe → books flow is polled with `--backfill` (Stripe itself
sends `charge.succeeded`); the CRM side and the write-back run as plain syncs, as
`billbridge worker` would run them. An upgrade (a new plan on the deal) changes the
subscription and sends one customer-success notice through the alert webhook.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import stripe

from tests.crm_server import CrmServer
from tests.e2e.alert_receiver import AlertReceiver

from ._loop import crm_account, loop_workspace, ok, pay_by_card, plans, stripe_customers
from ._workspace import cli, crm_env

pytestmark = pytest.mark.crm


def test_a_won_deal_travels_to_stripe_the_books_and_back_with_no_handoff(
    tmp_path: Path, crm: CrmServer, localstripe: str, stripe_client: stripe.StripeClient
) -> None:
    plans(stripe_client)
    ok(crm.api("POST", "/api/custom-fields/", {"target_model": "Opportunity", "key": "plan",
                                               "label": "Plan", "field_type": "text"}))  # fmt: skip
    account, _ = crm_account(crm, "Hooli", "billing@hooli.example")
    deal = ok(crm.api("POST", "/api/opportunities/", {
        "name": "Hooli hosting", "account": account, "amount": "49.00", "currency": "EUR",
        "stage": "NEGOTIATION", "custom_fields": {"plan": "pro"}}))["id"]  # fmt: skip
    with AlertReceiver() as alerts:
        root = loop_workspace(tmp_path / "ws", crm, localstripe,
                              alert_url=f"http://127.0.0.1:{alerts.port}/hook")  # fmt: skip
        env = crm_env(crm)

        def sync(*args: str) -> dict[str, int]:
            code, out = cli(root, env, "sync", *args)
            assert code == 0, out
            return {r["flow"]: r["posted"] for r in out.get("runs", [out])}

        assert sync("crm-to-stripe")["crm-to-stripe"] == 1  # the customer; the deal is open
        (customer,) = stripe_customers(stripe_client)[f"crm:customer:{account}"]
        assert (customer["name"], customer["email"]) == ("Hooli", "billing@hooli.example")
        pay_by_card(stripe_client, customer["id"])

        ok(crm.api("PATCH", f"/api/opportunities/{deal}/",
                   {"stage": "CLOSED_WON", "closed_on": "2026-01-05"}))  # fmt: skip
        assert sync("crm-to-stripe")["crm-to-stripe"] == 1  # the subscription
        (sub,) = stripe_client.v1.subscriptions.list(params={"customer": customer["id"]}).data
        assert sub.metadata["billbridge_key"] == f"crm:deal:{deal}"
        (invoice,) = stripe_client.v1.invoices.list(params={"customer": customer["id"]}).data
        assert invoice.status == "paid"

        assert sync("--backfill", "stripe-to-books")["stripe-to-books"] == 2  # invoice, payment
        assert sync("stripe-to-crm")["stripe-to-crm"] == 1  # the invoice, written back
        crm_invoices = ok(crm.api("GET", f"/api/invoices/?account={account}"))["results"]
        assert [(i["status"], i["amount_due"], i["total_amount"]) for i in crm_invoices] == [
            ("Paid", "0.00", "49.00")
        ]
        detail = ok(crm.api("GET", f"/api/invoices/{crm_invoices[0]['id']}/"))["invoice"]
        assert [p["amount"] for p in detail["payments"]] == ["49.00"]

        code, traced = cli(root, env, "trace", invoice.id)
        assert code == 0, traced
        assert traced["systems"] == ["crm", "stripe", "books"]
        assert traced["human_handoffs"] == 0
        written = [(e["record"].split(":")[1], e["event"]) for e in traced["events"]
                   if e["event"] in ("written", "posting")]  # fmt: skip
        assert ("deal", "written") in written and ("invoice", "posting") in written

        # Nothing changed anywhere: every flow writes nothing.
        again = sync("crm-to-stripe", "stripe-to-crm") | sync("--backfill", "stripe-to-books")
        assert again == {"crm-to-stripe": 0, "stripe-to-crm": 0, "stripe-to-books": 0}
        check = subprocess.run(
            [str(Path(".venv/bin/bean-check").resolve()), str(root / "books" / "main.beancount")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr

        # An upgrade: the deal's plan moves to business; one notice to customer success.
        ok(crm.api("PATCH", f"/api/opportunities/{deal}/",
                   {"custom_fields": {"plan": "business"}, "amount": "99.00"}))  # fmt: skip
        assert sync("crm-to-stripe")["crm-to-stripe"] == 1
        now = stripe_client.v1.subscriptions.retrieve(sub.id)
        assert now["items"].data[0].plan.id == "business"
        assert [(b["rule"], b["account"], b["old_plan"], b["new_plan"], b["amount"],
                 b["currency"]) for b in alerts.bodies] == [
            ("plan_upgrade", "Hooli", "pro", "business", "99.00", "EUR")]  # fmt: skip
        assert sync("crm-to-stripe", "stripe-to-crm") == {"crm-to-stripe": 0, "stripe-to-crm": 0}
        assert len(alerts.bodies) == 1
