"""Test data made in localstripe through the official SDK, the way an account fills up."""

from __future__ import annotations

from dataclasses import dataclass, field

import stripe

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@dataclass
class Account:
    customers: list[str] = field(default_factory=list)
    invoices: dict[str, int] = field(default_factory=dict)  # id -> total (minor units)
    charges: dict[str, int] = field(default_factory=dict)  # id -> amount
    refunds: dict[str, int] = field(default_factory=dict)  # id -> amount


def customer(client: stripe.StripeClient, name: str) -> tuple[str, str]:
    cus = client.v1.customers.create(params={"name": name, "email": f"{name}@example.com"})
    pm = client.v1.payment_methods.create(params={"type": "card", "card": CARD})  # type: ignore[typeddict-item]
    client.v1.payment_methods.attach(pm.id, params={"customer": cus.id})
    client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    return cus.id, pm.id


def fill(client: stripe.StripeClient, *, customers: int = 3) -> Account:
    """Customers with paid monthly subscriptions, one-off payments and partial refunds."""
    account = Account()
    product = client.v1.products.create(params={"name": "Hosting"})
    plan = client.v1.plans.create(
        params={
            "product": product.id,
            "amount": 1999,
            "currency": "eur",
            "interval": "month",
        }
    )
    for n in range(customers):
        cus, pm = customer(client, f"cust{n}")
        account.customers.append(cus)
        client.v1.subscriptions.create(params={"customer": cus, "items": [{"plan": plan.id}]})
        pi = client.v1.payment_intents.create(
            params={"amount": 5000 + n, "currency": "eur", "customer": cus, "payment_method": pm}
        )
        client.v1.payment_intents.confirm(pi.id)
    for inv in client.v1.invoices.list(params={"limit": 100}).data:
        account.invoices[inv.id] = inv.total
    for ch in client.v1.charges.list(params={"limit": 100}).data:
        account.charges[ch.id] = ch.amount
    for i, ch_id in enumerate(sorted(account.charges)):
        if i % 2 == 0:
            ref = client.v1.refunds.create(params={"charge": ch_id, "amount": 500})
            account.refunds[ref.id] = ref.amount
    return account
