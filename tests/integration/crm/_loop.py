"""The loop's workspace: BottleCRM ↔ Stripe (localstripe) two ways, Stripe → Beancount."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import stripe

from billbridge.workspace_files import create_workspace
from tests.crm_server import CrmServer

from ._workspace import crm_connection

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
OWNERS = """\
owners:
  customer:
    name: {owner: crm, policy: revert}
    email: {owner: crm, policy: conflict}
    address: {owner: stripe, policy: conflict}
"""


def loop_workspace(
    root: Path, crm: CrmServer, api_base: str, *, alert_url: str = "", owners: str = OWNERS
) -> Path:
    create_workspace(root, timezone="UTC")
    text = (
        "connections:\n" + crm_connection(crm)
        + "  stripe:\n    connector: stripe\n    mode: sandbox\n"
        "    api_key: ${STRIPE_API_KEY}\n"
        f"    api_base: {api_base}\n"
        "    objects: [customers, balance_transactions, invoices, payment_intents, charges,"
        " refunds, payouts]\n"
        "  books:\n    connector: beancount\n    path: books/main.beancount\n"
        "flows:\n"
        "  - {name: crm-to-stripe, from: crm, to: stripe, mapping: mapping.yaml}\n"
        "  - {name: stripe-to-books, from: stripe, to: books, mapping: mapping.yaml}\n"
        "  - {name: stripe-to-crm, from: stripe, to: crm, mapping: mapping.yaml}\n"
        + owners + "state: .billbridge/state.db\n"
    )  # fmt: skip
    if alert_url:
        text += f"alerts:\n  webhook: {alert_url}\n  rules:\n    plan_upgrade: true\n"
    (root / "billbridge.yaml").write_text(text)
    return root


def plans(client: stripe.StripeClient) -> None:
    """The plans the CRM's deals name (their ids are the CRM's plan codes)."""
    product = client.v1.products.create(params={"name": "Hosting"})
    for ident, amount in (("pro", 4900), ("business", 9900)):
        client.v1.plans.create(params={"id": ident, "product": product.id, "amount": amount,
                                       "currency": "eur", "interval": "month"})  # fmt: skip


def pay_by_card(client: stripe.StripeClient, customer: str) -> None:
    """The customer enters a card in Stripe (their own action, not finance's)."""
    pm = client.v1.payment_methods.create(params={"type": "card", "card": CARD})  # type: ignore[typeddict-item]
    client.v1.payment_methods.attach(pm.id, params={"customer": customer})
    client.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": pm.id}}
    )


def ok(answer: tuple[int, Any]) -> Any:
    status, body = answer
    assert status in (200, 201), body
    return body


def crm_account(crm: CrmServer, name: str, email: str) -> tuple[str, str]:
    """An account with a contact (a CRM invoice needs one): (account id, contact id)."""
    account = ok(crm.api("POST", "/api/accounts/", {
        "name": name, "email": email, "address_line": "Hauptstr. 1", "city": "Berlin",
        "postcode": "10115", "country": "DE"}))  # fmt: skip
    contact = ok(crm.api("POST", "/api/contacts/", {
        "first_name": "Accounts", "last_name": name, "email": f"ap.{email}",
        "account": account["id"]}))  # fmt: skip
    return account["id"], contact["id"]


def stripe_customers(client: stripe.StripeClient) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for customer in client.v1.customers.list(params={"limit": 100}).data:
        data = customer.to_dict()
        key = (data.get("metadata") or {}).get("billbridge_key")
        found.setdefault(str(key), []).append(data)
    return found
