"""The sample generator's fixed data: currencies, countries, products, tax rates, ids.

Its own module because these tables are data, not behaviour: the demo workspace and the
tests read `SAMPLE_PRODUCTS` and `SAMPLE_TAX_RATES` to build matching mappings, and the
generator's parts (customers and invoices, money, the stream) all price, tax and name
things from the same tables, so they live once, here, with the few pure helpers that
compute from them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal

__all__ = [
    "COUNTRIES",
    "DAY",
    "FAULT_IDS",
    "NAMES",
    "PAYOUT_EVERY",
    "PRICES",
    "PRODUCT_IDS",
    "SAMPLE_PRODUCTS",
    "SAMPLE_TAX_PERCENT_RATES",
    "SAMPLE_TAX_RATES",
    "START",
    "Api",
    "Customer",
    "Ids",
    "SampleTaxRate",
    "random_id",
    "spread_by_weight",
    "stripe_fee",
    "tax_amount",
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
COUNTRIES: Final = (  # country, currency, tax rates, city, company suffix, weight
    ("DE", "eur", ("txr_de_vat19",), "Berlin", "GmbH", 30),
    ("FR", "eur", ("txr_fr_vat20",), "Lyon", "SARL", 15),
    ("US", "usd", ("txr_us_ca", "txr_us_ny"), "Sacramento", "Inc", 30),
    ("GB", "gbp", ("txr_gb_vat20",), "Leeds", "Ltd", 15),
    ("JP", "jpy", ("txr_jp_ct10",), "Osaka", "KK", 6),
    ("KW", "kwd", ("txr_kw_zero",), "Kuwait City", "WLL", 4),
)
NAMES: Final = (
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
START: Final = 1_704_067_200  # 2024-01-01T00:00:00Z
DAY: Final = 86_400
PAYOUT_EVERY: Final = 50


def _price(product: str, cur: str) -> int:
    eur = SAMPLE_PRODUCTS[product][1]
    return int((eur * _FX[cur]).scaleb(_MINOR[cur]).quantize(Decimal(1), ROUND_HALF_UP))


PRICES: Final = {(p, c): _price(p, c) for p in SAMPLE_PRODUCTS for c in _FX}
PRODUCT_IDS: Final = tuple(SAMPLE_PRODUCTS)


def tax_amount(net: int, rate: str) -> int:
    pct = SAMPLE_TAX_RATES[rate].percentage
    return int((Decimal(net) * pct / 100).quantize(Decimal(1), ROUND_HALF_UP))


def stripe_fee(amount: int) -> int:
    return min(amount, (amount * 29 + 500) // 1000 + 30)


@dataclass(slots=True)
class Customer:
    id: str
    name: str
    email: str
    country: str
    currency: str
    rates: tuple[str, ...]
    tax_id: str


def random_id(rng: random.Random) -> str:
    """A Stripe-like id body: "1" and 23 base62 characters."""
    return "1" + "".join(rng.choices(_BASE62, k=23))


def spread_by_weight(amount: int, weights: list[int]) -> list[int]:
    total = sum(weights) or 1
    parts = [amount * w // total for w in weights]
    parts[0] += amount - sum(parts)
    return parts
