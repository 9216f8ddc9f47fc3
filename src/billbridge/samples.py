"""Realistic Stripe export data, generated as a stream: for the demo, tests and benchmarks.

Why generated and not recorded: a demo and a 1M-record benchmark need volume, mixed
currencies (JPY has no minor unit, KWD three), taxes, discounts, refunds, credit notes,
voids and payouts that all add up; and tests need the same data for the same seed.
Objects come out in `created` order as a Stripe export would list them, one dict at a
time, in constant memory (only the customers and a small queue of future events are held).

Shapes: `api="current"` follows shared/data/stripe-api-fixtures.json (line `taxes`,
`pricing`, `total_taxes`, payments linked through `invoice_payment` objects, emitted just
before their charge). `api="2017-08-15"` follows localstripe: invoice-level `tax_percent`
and `tax`, lines with `plan`, `charge.invoice`, cards as `source`; there are no credit
notes in that version (Stripe added them in 2019), so none are generated.

Deliberate faults (`faults=True`), each recognizable by its id:
- `in_fault_bad_currency`: an invoice in currency "eurx" (normalize: Problem on `currency`);
- `in_fault_total_mismatch`: an invoice whose lines do not sum to its total (Problem on `total`);
- `in_fault_unmapped_tax`: an open invoice taxed at `txr_unmapped_xx`, a rate no mapping has
  (normalizes cleanly; mapping fails);
- `ch_fault_early` with `txn_fault_early` (and `inpay_fault_early` in the current shape):
  a charge emitted BEFORE its invoice `in_fault_early`, which follows later.

Ids: `ids="sequential"` numbers them (`in_0000000042`), which tests read easily;
`ids="random"` makes them like Stripe's (`in_1Nq3…`: "1" and 23 base62 characters, from
their own seeded generator, so the objects are otherwise the same as sequential ones).
Benchmarks use random ids: a store's indexes grow very differently when keys arrive in
random order rather than appended at the end.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Final, Literal

import orjson

__all__ = [
    "FAULT_IDS",
    "SAMPLE_PRODUCTS",
    "SAMPLE_TAX_PERCENT_RATES",
    "SAMPLE_TAX_RATES",
    "generate",
    "write_jsonl",
]

Api = Literal["2017-08-15", "current"]
Ids = Literal["sequential", "random"]
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class SampleTaxRate:
    percentage: Decimal
    country: str
    description: str


SAMPLE_TAX_RATES: Final[dict[str, SampleTaxRate]] = {
    "txr_de_vat19": SampleTaxRate(Decimal("19"), "DE", "VAT Germany"),
    "txr_fr_vat20": SampleTaxRate(Decimal("20"), "FR", "TVA France"),
    "txr_gb_vat20": SampleTaxRate(Decimal("20"), "GB", "VAT United Kingdom"),
    "txr_us_ca": SampleTaxRate(Decimal("7.25"), "US", "Sales tax California"),
    "txr_us_ny": SampleTaxRate(Decimal("8.875"), "US", "Sales tax New York"),
    "txr_jp_ct10": SampleTaxRate(Decimal("10"), "JP", "Consumption tax Japan"),
    "txr_kw_zero": SampleTaxRate(Decimal("0"), "KW", "Kuwait (no VAT)"),
}
"""Stripe tax rate ids used by the current shape: id → percentage, country, description."""

SAMPLE_TAX_PERCENT_RATES: Final[dict[str, str]] = {
    f"tax_percent:{rate.percentage:.1f}"
    if rate.percentage == rate.percentage.to_integral()
    else f"tax_percent:{rate.percentage}": rid
    for rid, rate in SAMPLE_TAX_RATES.items()
}
"""The rate ids normalize gives 2017-08-15 invoices (`tax_percent:19.0`) → the txr_ id."""

SAMPLE_PRODUCTS: Final[dict[str, tuple[str, Decimal]]] = {
    "prod_basic": ("Basic plan", Decimal("19.00")),
    "prod_pro": ("Pro plan", Decimal("49.00")),
    "prod_seat": ("Extra seat", Decimal("9.90")),
    "prod_support": ("Premium support", Decimal("120.00")),
    "prod_storage": ("Storage add-on", Decimal("4.50")),
}
"""Product id → (name, price in EUR); other currencies use fixed sample rates."""

FAULT_IDS: Final = (
    "in_fault_bad_currency",
    "in_fault_total_mismatch",
    "in_fault_unmapped_tax",
    "ch_fault_early",
)

_FX: Final = {
    "eur": Decimal(1),
    "usd": Decimal("1.08"),
    "gbp": Decimal("0.86"),
    "jpy": Decimal(160),
    "kwd": Decimal("0.33"),
}
_MINOR: Final = {"eur": 2, "usd": 2, "gbp": 2, "jpy": 0, "kwd": 3}
_COUNTRIES: Final = (  # country, currency, tax rates, city, company suffix, weight
    ("DE", "eur", ("txr_de_vat19",), "Berlin", "GmbH", 30),
    ("FR", "eur", ("txr_fr_vat20",), "Lyon", "SARL", 15),
    ("US", "usd", ("txr_us_ca", "txr_us_ny"), "Sacramento", "Inc", 30),
    ("GB", "gbp", ("txr_gb_vat20",), "Leeds", "Ltd", 15),
    ("JP", "jpy", ("txr_jp_ct10",), "Osaka", "KK", 6),
    ("KW", "kwd", ("txr_kw_zero",), "Kuwait City", "WLL", 4),
)
_NAMES: Final = (
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Acme",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Vandelay",
)
_START: Final = 1_704_067_200  # 2024-01-01T00:00:00Z
_DAY: Final = 86_400
_PAYOUT_EVERY: Final = 50


def _price(product: str, cur: str) -> int:
    eur = SAMPLE_PRODUCTS[product][1]
    return int((eur * _FX[cur]).scaleb(_MINOR[cur]).quantize(Decimal(1), ROUND_HALF_UP))


_PRICES: Final = {(p, c): _price(p, c) for p in SAMPLE_PRODUCTS for c in _FX}
_PRODUCT_IDS: Final = tuple(SAMPLE_PRODUCTS)


def _tax(net: int, rate: str) -> int:
    pct = SAMPLE_TAX_RATES[rate].percentage
    return int((Decimal(net) * pct / 100).quantize(Decimal(1), ROUND_HALF_UP))


def _fee(amount: int) -> int:
    return min(amount, (amount * 29 + 500) // 1000 + 30)


@dataclass(slots=True)
class _Cust:
    id: str
    name: str
    email: str
    country: str
    currency: str
    rates: tuple[str, ...]
    tax_id: str


class _Gen:
    def __init__(self, invoices: int, seed: int, api: Api, faults: bool, ids: Ids) -> None:
        self.n = invoices
        # Random ids draw from their own generator: the data does not change with them.
        self.ids = random.Random(f"ids-{seed}") if ids == "random" else None
        self.rng = random.Random(seed)
        self.current = api == "current"
        self.faults = faults
        self.clock = _START
        self.later: list[tuple[int, int, dict[str, Any]]] = []
        self.seq = 0
        self.invoice_number = 0
        self.balance: dict[str, int] = {}
        self.charges_since_payout: dict[str, int] = {}
        self.customers: list[_Cust] = []

    # ---------------------------------------------------------------- helpers
    def _id(self, prefix: str) -> str:
        self.seq += 1
        if self.ids is not None:
            return f"{prefix}_{_random_id(self.ids)}"
        return f"{prefix}_{self.seq:010d}"

    def _number(self) -> int:
        self.invoice_number += 1
        return self.invoice_number

    def _defer(self, when: int, obj: dict[str, Any]) -> None:
        self.seq += 1
        heapq.heappush(self.later, (when, self.seq, obj))

    def _due(self, until: int) -> Iterator[dict[str, Any]]:
        while self.later and self.later[0][0] <= until:
            obj = heapq.heappop(self.later)[2]
            if obj["object"] == "balance_transaction":
                cur = obj["currency"]
                self.balance[cur] = self.balance.get(cur, 0) + obj["net"]
            yield obj

    # ---------------------------------------------------------------- customers
    def _customers(self) -> Iterator[dict[str, Any]]:
        weights = [c[5] for c in _COUNTRIES]
        for i in range(min(300, max(1, self.n))):
            ident = _random_id(self.ids) if self.ids is not None else f"{i + 1:06d}"
            country, cur, rates, city, suffix, _ = self.rng.choices(_COUNTRIES, weights)[0]
            name = f"{_NAMES[i % len(_NAMES)]} {city} {suffix}"
            if i >= len(_NAMES):
                name = f"{_NAMES[i % len(_NAMES)]} {i // len(_NAMES)} {city} {suffix}"
            cust = _Cust(
                id=f"cus_{ident}",
                name=name,
                email=f"billing{i + 1}@{_NAMES[i % len(_NAMES)].lower()}.example",
                country=country,
                currency=cur,
                rates=rates,
                tax_id=f"{country}{100000000 + i * 7919}" if country in ("DE", "FR", "GB") else "",
            )
            self.customers.append(cust)
            obj: dict[str, Any] = {
                "id": cust.id,
                "object": "customer",
                "created": _START - _DAY + i,
                "name": cust.name,
                "email": cust.email,
                "currency": cur,
                "address": {
                    "country": country,
                    "city": city,
                    "line1": f"{i + 1} Main Street",
                    "line2": None,
                    "postal_code": f"{10000 + i}",
                    "state": None,
                },
                "livemode": False,
                "metadata": {},
            }
            if self.current:
                obj["tax_ids"] = {
                    "object": "list",
                    "has_more": False,
                    "data": [
                        {
                            "id": f"txi_{ident}",
                            "object": "tax_id",
                            "type": "eu_vat",
                            "value": cust.tax_id,
                        },
                    ]
                    if cust.tax_id
                    else [],
                }
            else:
                obj["business_vat_id"] = cust.tax_id or None
            yield obj

    # ---------------------------------------------------------------- invoices
    def _lines(self, inv_id: str, cust: _Cust, rate: str, t: int) -> list[dict[str, Any]]:
        cur = cust.currency
        lines = []
        for _ in range(self.rng.randint(1, 3)):
            product = self.rng.choice(_PRODUCT_IDS)
            qty = self.rng.randint(1, 5) if product == "prod_seat" else 1
            unit = _PRICES[(product, cur)]
            amount = unit * qty
            line: dict[str, Any] = {
                "id": self._id("il"),
                "object": "line_item",
                "invoice": inv_id,
                "amount": amount,
                "currency": cur,
                "quantity": qty,
                "description": f"{qty} x {SAMPLE_PRODUCTS[product][0]}",
                "period": {"start": t, "end": t + 30 * _DAY},
                "livemode": False,
            }
            if self.current:
                discount = amount // 10 if self.rng.random() < 0.2 else 0
                net = amount - discount
                line["discount_amounts"] = (
                    [{"amount": discount, "discount": "di_sample10"}] if discount else []
                )
                line["taxes"] = [
                    {
                        "amount": _tax(net, rate),
                        "tax_behavior": "exclusive",
                        "tax_rate_details": {"tax_rate": rate},
                        "taxability_reason": "standard_rated",
                        "taxable_amount": net,
                        "type": "tax_rate_details",
                    }
                ]
                line["pricing"] = {
                    "type": "price_details",
                    "price_details": {"price": f"price_{product[5:]}_{cur}", "product": product},
                    "unit_amount_decimal": str(unit),
                }
            else:
                line["plan"] = {
                    "id": f"plan_{product[5:]}_{cur}",
                    "object": "plan",
                    "product": product,
                    "amount": unit,
                    "currency": cur,
                }
                line["tax_rates"] = []
                line["type"] = "subscription"
            lines.append(line)
        return lines

    def _invoice(
        self, inv_id: str, cust: _Cust, t: int, *, status: str, rate: str | None = None
    ) -> dict[str, Any]:
        rate = rate or self.rng.choice(cust.rates)
        lines = self._lines(inv_id, cust, rate, t)
        subtotal = sum(li["amount"] for li in lines)
        inv: dict[str, Any] = {
            "id": inv_id,
            "object": "invoice",
            "number": f"BB-{self._number():07d}",
            "customer": cust.id,
            "customer_email": cust.email,
            "currency": cust.currency,
            "created": t,
            "livemode": False,
            "subtotal": subtotal,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{inv_id}/lines",
            },
        }
        if self.current:
            discount = sum(d["amount"] for li in lines for d in li["discount_amounts"])
            tax = sum(tx["amount"] for li in lines for tx in li["taxes"])
            inv["customer_name"] = cust.name
            inv["customer_address"] = {"country": cust.country}
            inv["customer_tax_ids"] = (
                [{"type": "eu_vat", "value": cust.tax_id}] if cust.tax_id else []
            )
            inv["total_taxes"] = [
                {
                    "amount": tax,
                    "tax_behavior": "exclusive",
                    "tax_rate_details": {"tax_rate": rate},
                    "taxable_amount": subtotal - discount,
                    "type": "tax_rate_details",
                }
            ]
            inv["total_discount_amounts"] = (
                [{"amount": discount, "discount": "di_sample10"}] if discount else []
            )
        else:
            discount = 0
            pct = SAMPLE_TAX_RATES[rate].percentage
            tax = _tax(subtotal, rate)
            inv["tax_percent"] = float(pct)
            inv["tax"] = tax
            inv["date"] = t
        total = subtotal - discount + tax
        paid = status == "paid"
        inv.update(
            {
                "total": total,
                "amount_due": total,
                "amount_paid": total if paid else 0,
                "amount_remaining": 0 if paid else total,
                "status": status,
                "status_transitions": {
                    "finalized_at": t,
                    "paid_at": t + 60 if paid else None,
                    "voided_at": t + _DAY if status == "void" else None,
                    "marked_uncollectible_at": None,
                },
                "due_date": t + 14 * _DAY,
            }
        )
        return inv

    # ---------------------------------------------------------------- money
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
        fee = _fee(amount)
        txn = {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": amount,
            "currency": cur,
            "fee": fee,
            "net": amount - fee,
            "created": t,
            "available_on": t + 2 * _DAY,
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
        if self.charges_since_payout[cur] < _PAYOUT_EVERY or self.balance.get(cur, 0) <= 0:
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
            "arrival_date": t + 2 * _DAY,
            "status": "paid",
            "method": "standard",
            "type": "bank_account",
            "automatic": True,
            "destination": f"ba_sample_{cur}",
            "balance_transaction": self._id("txn"),
        }

    # ---------------------------------------------------------------- faults
    def _fault(self, k: int, t: int) -> Iterator[dict[str, Any]]:
        cust = self.customers[k % len(self.customers)]
        if k == 0:
            inv = self._invoice("in_fault_bad_currency", cust, t, status="open")
            inv["currency"] = "eurx"
            yield inv
        elif k == 1:
            inv = self._invoice("in_fault_total_mismatch", cust, t, status="open")
            inv["total"] += 1
            inv["amount_due"] += 1
            inv["amount_remaining"] += 1
            yield inv
        elif k == 2:
            inv = self._invoice("in_fault_unmapped_tax", cust, t, status="open", rate=cust.rates[0])
            for line in inv["lines"]["data"]:
                if self.current:
                    line["taxes"][0]["tax_rate_details"]["tax_rate"] = "txr_unmapped_xx"
                else:
                    line["tax_amounts"] = [
                        {"amount": 0, "inclusive": False, "tax_rate": "txr_unmapped_xx"}
                    ]
            if self.current:
                inv["total_taxes"][0]["tax_rate_details"] = {"tax_rate": "txr_unmapped_xx"}
            else:
                spread = _spread(inv["tax"], [li["amount"] for li in inv["lines"]["data"]])
                for line, share in zip(inv["lines"]["data"], spread, strict=True):
                    line["tax_amounts"][0]["amount"] = share
                inv["tax_percent"] = None
            yield inv
        else:
            inv = self._invoice("in_fault_early", cust, t, status="paid")
            yield from self._charge(
                inv, t, ("ch_fault_early", "txn_fault_early", "pi_fault_early", "inpay_fault_early")
            )
            self._defer(t + 120, inv)

    # ---------------------------------------------------------------- the stream
    def run(self) -> Iterator[dict[str, Any]]:
        yield from self._customers()
        fault_at: dict[int, list[int]] = {}
        if self.faults:
            for k in range(len(FAULT_IDS)):
                fault_at.setdefault(min(self.n * (k + 1) // 5, max(0, self.n - 1)), []).append(k)
        rng = self.rng
        for i in range(self.n):
            self.clock += rng.randint(30, 900)
            t = self.clock
            yield from self._due(t)
            cust = self.customers[rng.randrange(len(self.customers))]
            roll = rng.random()
            inv_id = self._id("in")
            if roll < 0.01:
                yield self._invoice(inv_id, cust, t, status="void")
            else:
                inv = self._invoice(inv_id, cust, t, status="paid")
                yield inv
                yield from self._due(t + 60)
                money = self._charge(inv, t + 60)
                yield from money
                charge = money[-1]
                if roll < 0.06:
                    share = Decimal(rng.randint(10, 50)) / 100
                    part = int((Decimal(inv["total"]) * share).to_integral_value(ROUND_HALF_UP))
                    if part > 0:
                        self._refund(charge, part, t + rng.randint(3600, 3 * _DAY))
                elif roll < 0.08 and self.current:
                    self._credit_note(inv, charge, t + rng.randint(_DAY, 5 * _DAY))
                yield from self._due(t + 61)
                yield from self._payout(inv["currency"], t + 60)
                self.clock = t + 61
            for k in fault_at.get(i, ()):
                self.clock += 1
                yield from self._due(self.clock)
                yield from self._fault(k, self.clock)
        if self.n == 0:
            for k in fault_at.get(0, ()):
                self.clock += 1
                yield from self._fault(k, self.clock)
        yield from self._due(2**62)


def _random_id(rng: random.Random) -> str:
    """A Stripe-like id body: "1" and 23 base62 characters."""
    return "1" + "".join(rng.choices(_BASE62, k=23))


def _spread(amount: int, weights: list[int]) -> list[int]:
    total = sum(weights) or 1
    parts = [amount * w // total for w in weights]
    parts[0] += amount - sum(parts)
    return parts


def generate(
    *,
    invoices: int,
    seed: int = 0,
    api: Api = "current",
    faults: bool = False,
    ids: Ids = "sequential",
) -> Iterator[dict[str, Any]]:
    """Stripe-shaped objects in created order: customers, then each invoice with its money.

    About 1% of invoices are voided (never paid); the rest are paid by one succeeded
    charge (fee 2.9% + 30 minor units) with its balance transaction; ~5% get a partial
    refund, ~2% a credit note (current shape only; half of them refunded); a payout per
    currency every 50 charges pays out the balance. Same seed, same objects.
    """
    if invoices < 0:
        raise ValueError("invoices must not be negative")
    return _Gen(invoices, seed, api, faults, ids).run()


def write_jsonl(path: Path | str, objects: Iterable[dict[str, Any]]) -> int:
    """Write objects one per line (orjson), streaming; returns how many were written."""
    count = 0
    dumps = orjson.dumps
    with Path(path).open("wb", buffering=1 << 20) as out:
        for obj in objects:
            out.write(dumps(obj))
            out.write(b"\n")
            count += 1
    return count
