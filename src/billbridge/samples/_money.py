"""The sample generator's money: charges, refunds, credit notes and payouts.

Its own module because these objects follow an invoice rather than describe it: each
charge moves the per-currency balance that payouts empty, and refunds and credit notes
are deferred to a later time in the stream; that bookkeeping reads best on its own,
apart from how invoices are shaped (`_invoices`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._state import GenState
from ._tables import DAY, PAYOUT_EVERY, stripe_fee

__all__ = ["MoneyMixin"]


class MoneyMixin(GenState):
    """Charges with their balance transactions, refunds, credit notes, payouts."""

    def _charge(
        self, inv: dict[str, Any], t: int, ids: tuple[str, str, str, str] | None = None
    ) -> list[dict[str, Any]]:
        cur = inv["currency"]
        amount = inv["total"]
        ch_id, txn_id, pi_id, inpay_id = ids or (
            self._id("ch"),
            self._id("txn"),
            self._id("pi"),
            self._id("inpay"),
        )
        fee = stripe_fee(amount)
        txn = {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": amount,
            "currency": cur,
            "fee": fee,
            "net": amount - fee,
            "created": t,
            "available_on": t + 2 * DAY,
            "status": "available",
            "type": "charge",
            "reporting_category": "charge",
            "source": ch_id,
            "fee_details": [
                {
                    "amount": fee,
                    "currency": cur,
                    "type": "stripe_fee",
                    "description": "Stripe processing fees",
                }
            ],
        }
        charge: dict[str, Any] = {
            "id": ch_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "balance_transaction": txn_id,
            "captured": True,
            "created": t,
            "currency": cur,
            "customer": inv["customer"],
            "paid": True,
            "status": "succeeded",
            "livemode": False,
            "refunded": False,
        }
        out: list[dict[str, Any]] = [txn]
        if self.current:
            charge["payment_intent"] = pi_id
            charge["payment_method_details"] = {
                "type": "card",
                "card": {
                    "brand": "visa",
                    "last4": "4242",
                    "exp_month": 8,
                    "exp_year": 2030,
                    "fingerprint": "sampleFingerprint",
                    "funding": "credit",
                    "country": "US",
                },
            }
            out.append(
                {
                    "id": inpay_id,
                    "object": "invoice_payment",
                    "invoice": inv["id"],
                    "amount_paid": amount,
                    "amount_requested": amount,
                    "currency": cur,
                    "created": t,
                    "is_default": True,
                    "status": "paid",
                    "payment": {"type": "payment_intent", "payment_intent": pi_id},
                    "status_transitions": {"paid_at": t, "canceled_at": None},
                }
            )
        else:
            charge["invoice"] = inv["id"]
            charge["source"] = {
                "id": f"card_{ch_id[3:]}",
                "object": "card",
                "brand": "Visa",
                "last4": "4242",
                "exp_month": 8,
                "exp_year": 2030,
                "fingerprint": "sampleFingerprint",
                "funding": "credit",
            }
        out.append(charge)
        self.balance[cur] = self.balance.get(cur, 0) + amount - fee
        return out

    def _refund(self, charge: dict[str, Any], amount: int, when: int) -> str:
        re_id = self._id("re")
        cur = charge["currency"]
        txn = {
            "id": self._id("txn"),
            "object": "balance_transaction",
            "amount": -amount,
            "currency": cur,
            "fee": 0,
            "net": -amount,
            "created": when,
            "available_on": when,
            "status": "available",
            "type": "refund",
            "reporting_category": "refund",
            "source": re_id,
            "fee_details": [],
        }
        self._defer(when, txn)
        self._defer(
            when,
            {
                "id": re_id,
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "balance_transaction": txn["id"],
                "created": when,
                "currency": cur,
                "payment_intent": charge.get("payment_intent"),
                "reason": "requested_by_customer",
                "status": "succeeded",
                "metadata": {},
            },
        )
        return re_id

    def _credit_note(self, inv: dict[str, Any], charge: dict[str, Any], when: int) -> None:
        line = inv["lines"]["data"][0]
        discount = sum(d["amount"] for d in line["discount_amounts"])
        tax = sum(tx["amount"] for tx in line["taxes"])
        total = line["amount"] - discount + tax
        refunds = []
        if self.rng.random() < 0.5:
            re_id = self._refund(charge, total, when)
            refunds = [{"amount_refunded": total, "refund": re_id, "type": "refund"}]
        cn_id = self._id("cn")
        self._defer(
            when + 1,
            {
                "id": cn_id,
                "object": "credit_note",
                "number": f"{inv['number']}-CN-01",
                "invoice": inv["id"],
                "customer": inv["customer"],
                "currency": inv["currency"],
                "created": when + 1,
                "status": "issued",
                "type": "post_payment",
                "reason": "product_unsatisfactory",
                "memo": None,
                "voided_at": None,
                "subtotal": line["amount"] - discount,
                "total": total,
                "discount_amount": discount,
                "total_taxes": line["taxes"],
                "refunds": refunds,
                "lines": {
                    "object": "list",
                    "has_more": False,
                    "data": [
                        {
                            "id": self._id("cnli"),
                            "object": "credit_note_line_item",
                            "amount": line["amount"],
                            "discount_amount": discount,
                            "description": line["description"],
                            "invoice_line_item": line["id"],
                            "quantity": line["quantity"],
                            "taxes": line["taxes"],
                            "tax_rates": [],
                            "type": "invoice_line_item",
                        }
                    ],
                },
            },
        )

    def _payout(self, cur: str, t: int) -> Iterator[dict[str, Any]]:
        self.charges_since_payout[cur] = self.charges_since_payout.get(cur, 0) + 1
        if self.charges_since_payout[cur] < PAYOUT_EVERY or self.balance.get(cur, 0) <= 0:
            return
        amount = self.balance[cur]
        self.balance[cur] = 0
        self.charges_since_payout[cur] = 0
        yield {
            "id": self._id("po"),
            "object": "payout",
            "amount": amount,
            "currency": cur,
            "created": t + 1,
            "arrival_date": t + 2 * DAY,
            "status": "paid",
            "method": "standard",
            "type": "bank_account",
            "automatic": True,
            "destination": f"ba_sample_{cur}",
            "balance_transaction": self._id("txn"),
        }
