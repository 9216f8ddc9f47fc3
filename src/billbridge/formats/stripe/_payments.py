"""Stripe charges, refunds, payouts and customers → `Payment`, `Refund`, `Payout`, `Customer`.

Fees and nets come from the charge's balance transaction, never from a guess: a charge
whose balance transaction we do not hold yet waits for it. A balance transaction in
another currency than the charge's is a settlement in that currency (presentment USD,
settlement EUR): its amount, fee, net and `exchange_rate` are kept as Stripe states
them. Card numbers, last4 and fingerprints are never read, so they cannot reach a log
line or the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billbridge.domain import Address, Customer, Money, Payment, Payout, Refund

from ._read import (
    Bad,
    Wait,
    amount,
    currency,
    day,
    decimal_or_none,
    mapping,
    money,
    ref_id,
    required_int,
    text,
    timestamp,
)
from ._types import Resolve

__all__ = ["charge", "charge_invoice", "customer", "payout", "refund"]


def _invoice_of_payment(resolve: Resolve, key: str) -> str:
    found = resolve("invoice_payment_by_payment", key)
    return ref_id(found.get("invoice")) if found is not None else ""


def charge_invoice(data: Mapping[str, Any], resolve: Resolve) -> str:
    """The invoice a charge pays: `invoice` (older API), its payment intent's `invoice`,
    or the current API's `invoice_payment`; "" for a payment with no invoice."""
    direct = ref_id(data.get("invoice"))
    if direct:
        return direct
    pi_raw = data.get("payment_intent")
    pi_id = ref_id(pi_raw)
    if pi_id:
        pi = mapping(pi_raw) or resolve("payment_intent", pi_id)
        if pi is not None:
            found = ref_id(pi.get("invoice"))
            if found:
                return found
        found = _invoice_of_payment(resolve, pi_id)
        if found:
            return found
    charge_id = data.get("id")
    return _invoice_of_payment(resolve, charge_id) if type(charge_id) is str else ""


def _method(data: Mapping[str, Any]) -> str:
    details = mapping(data.get("payment_method_details"))
    if details is None:
        source = mapping(data.get("source"))  # 2017-08-15: the card or source itself
        if source is None:
            return ""
        kind = text(source, "object")
        brand = text(source, "brand").lower()
        return f"{kind} {brand}" if kind and brand else kind
    kind = text(details, "type")
    brand = text(mapping(details.get(kind)) if kind else None, "brand")
    return f"{kind} {brand}" if kind and brand else kind


def charge(data: Mapping[str, Any], *, resolve: Resolve) -> Payment | None:
    status = data.get("status")
    if type(status) is not str:
        raise Bad("status", "status is missing")
    if status != "succeeded" or data.get("paid") is False:
        return None
    cur = currency(data)
    gross_minor = required_int(data, "amount", "amount")
    gross = money(gross_minor, cur)
    created = timestamp(data, "created", "created")
    bt_raw = data.get("balance_transaction")
    bt_id = ref_id(bt_raw)
    if not bt_id:
        if data.get("captured") is False:
            return None  # authorised, not captured: no money has moved
        raise Bad("balance_transaction", "balance_transaction is missing")
    bt = mapping(bt_raw) or resolve("balance_transaction", bt_id)
    if bt is None:
        raise Wait("balance_transaction", bt_id, f"waiting for balance transaction {bt_id}")
    bt_cur = currency(bt, "currency")
    bt_amount = required_int(bt, "amount", "balance_transaction.amount")
    fee = required_int(bt, "fee", "balance_transaction.fee")
    net = required_int(bt, "net", "balance_transaction.net")
    settled = money(bt_amount, bt_cur) if bt_cur != cur else None
    if (settled is None and bt_amount != gross_minor) or fee + net != bt_amount:
        raise Bad(
            "balance_transaction",
            f"balance transaction {bt_id} does not add up: charge {gross}, "
            f"amount {money(bt_amount, bt_cur)} = fee {money(fee, bt_cur)} "
            f"+ net {money(net, bt_cur)} expected",
            "check the balance transaction in Stripe and replay",
        )
    if settled is not None and bt_amount <= 0:
        raise Bad(
            "balance_transaction.amount",
            f"charge {gross} settled as {settled}: a settled charge is positive",
            "check the balance transaction in Stripe and replay",
        )
    return Payment(
        id=data["id"],
        invoice=charge_invoice(data, resolve),
        customer=ref_id(data.get("customer")),
        created=created,
        gross=gross,
        fee=money(fee, bt_cur),
        net=money(net, bt_cur),
        method=_method(data),
        status=status,
        balance_transaction=bt_id,
        settled=settled,
        exchange_rate=decimal_or_none(bt.get("exchange_rate")) if settled is not None else None,
        intent=ref_id(data.get("payment_intent")),
    )


def _refund_settled(
    data: Mapping[str, Any], cur: str, paid: Mapping[str, Any], resolve: Resolve
) -> Money | None:
    """What a refund took from the balance in the settlement currency, when that differs.

    From the refund's own balance transaction. Without one, the charge's says whether it
    matters: a refund of a charge settled in another currency waits for its own (the
    rate of the refund day is Stripe's, not the charge's).
    """
    bt_raw = data.get("balance_transaction")
    bt_id = ref_id(bt_raw)
    bt = mapping(bt_raw) or (resolve("balance_transaction", bt_id) if bt_id else None)
    if bt is not None:
        bt_cur = currency(bt, "currency")
        if bt_cur == cur:
            return None
        return money(abs(required_int(bt, "amount", "balance_transaction.amount")), bt_cur)
    charge_raw = paid.get("balance_transaction")
    charge_bt = mapping(charge_raw) or (
        resolve("balance_transaction", ref_id(charge_raw)) if ref_id(charge_raw) else None
    )
    if charge_bt is None or currency(charge_bt, "currency") == cur:
        return None
    if bt_id:
        raise Wait("balance_transaction", bt_id, f"waiting for balance transaction {bt_id}")
    raise Bad(
        "balance_transaction",
        f"the refund pays back a charge settled in {currency(charge_bt, 'currency')}, but has "
        "no balance transaction saying how much that took from the balance",
        "export the refund with its balance_transaction (or expand it), then replay",
    )


def refund(data: Mapping[str, Any], *, resolve: Resolve) -> Refund | None:
    status = data.get("status")
    if type(status) is not str:
        raise Bad("status", "status is missing")
    if status != "succeeded":
        return None
    cur = currency(data)
    value = amount(data, "amount", "amount", cur)
    created = timestamp(data, "created", "created")
    charge_raw = data.get("charge")
    charge_id = ref_id(charge_raw)
    if not charge_id:
        raise Bad("charge", "charge is missing (a refund pays back a charge)")
    paid = mapping(charge_raw) or resolve("charge", charge_id)
    if paid is None:
        raise Wait("charge", charge_id, f"waiting for charge {charge_id}")
    return Refund(
        id=data["id"],
        payment=charge_id,
        invoice=charge_invoice(paid, resolve),
        created=created,
        amount=value,
        status=status,
        reason=text(data, "reason"),
        settled=_refund_settled(data, cur, paid, resolve),
    )


def payout(data: Mapping[str, Any]) -> Payout:
    cur = currency(data)
    status = text(data, "status")
    if not status:
        raise Bad("status", "status is missing")
    return Payout(
        id=data["id"],
        created=timestamp(data, "created", "created"),
        arrival_date=day(data, "arrival_date", "arrival_date"),
        amount=amount(data, "amount", "amount", cur),
        status=status,
        destination=ref_id(data.get("destination")),
    )


def customer(data: Mapping[str, Any]) -> Customer:
    ident: str = data["id"]
    cur = currency(data) if data.get("currency") is not None else ""
    tax_id = ""
    tax_ids = mapping(data.get("tax_ids"))
    listed = tax_ids.get("data") if tax_ids is not None else None
    if type(listed) is list and listed:
        tax_id = text(mapping(listed[0]), "value")
    if not tax_id:
        tax_id = text(data, "business_vat_id")  # 2017-08-15
    addr = mapping(data.get("address"))
    email = text(data, "email")
    return Customer(
        id=ident,
        name=text(data, "name") or email or ident,
        email=email,
        tax_id=tax_id,
        address=Address(
            country=text(addr, "country"),
            region=text(addr, "state"),
            city=text(addr, "city"),
            postal_code=text(addr, "postal_code"),
            line1=text(addr, "line1"),
            line2=text(addr, "line2"),
        ),
        currency=cur,
    )
