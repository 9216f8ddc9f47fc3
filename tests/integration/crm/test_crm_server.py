"""The CRM the two-way tests use really runs: records round-trip, webhooks arrive signed.

Why a test of the fixture: the two-way sync tests rely on facts about BottleCRM (partial
PUT, signed deliveries sent before the API call returns, custom fields for our key); if
an upgrade of the CRM changes one, this test says so before the sync tests fail obscurely.
"""

from __future__ import annotations

import json

import pytest

from tests.crm_server import CrmServer

pytestmark = pytest.mark.crm


def test_records_round_trip_and_webhooks_arrive_signed(crm: CrmServer) -> None:
    body = {"name": "Hooli", "email": "ap@hooli.example"}
    status, account = crm.api("POST", "/api/accounts/", body)
    assert status == 200, account
    status, contact = crm.api(
        "POST",
        "/api/contacts/",
        {"first_name": "Gavin", "last_name": "Belson", "email": "gavin@hooli.example",
         "account": account["id"]},
    )  # fmt: skip
    assert status == 200, contact
    status, created = crm.api(
        "POST",
        "/api/invoices/",
        {"invoice_title": "Dec", "account_id": account["id"], "contact_id": contact["id"],
         "currency": "EUR",
         "line_items": [{"description": "Plan", "quantity": "2", "unit_price": "50"}]},
    )  # fmt: skip
    assert status == 201, created
    assert created["invoice"]["total_amount"] == "100.00"
    status, _ = crm.api("PUT", f"/api/accounts/{account['id']}/", {"name": "Hooli Inc"})
    assert status == 200

    status, page = crm.api("GET", "/api/accounts/?limit=100&offset=0")
    assert [a["name"] for a in page["active_accounts"]["open_accounts"]] == ["Hooli Inc"]
    events = [h["X-BottleCRM-Event"] for h, _ in crm.hooks]
    assert events == ["account.created", "contact.created", "invoice.created", "account.updated"]
    assert all(crm.verify(h, body) for h, body in crm.hooks)
    last = json.loads(crm.hooks[-1][1])
    assert last["org_id"] == crm.org_id
    assert last["data"]["name"] == "Hooli Inc"
    tampered = crm.hooks[-1][1].replace(b"Hooli Inc", b"Hooli Ltd")
    assert not crm.verify(crm.hooks[-1][0], tampered)
