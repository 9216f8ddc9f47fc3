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

The package's parts: `_tables` (fixed data and pure helpers), `_state` (the running
state every part shares), `_invoices` (customers and invoices), `_money` (charges,
refunds, credit notes, payouts) and `_generator` (the stream and the faults).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ._generator import SampleGenerator
from ._tables import (
    FAULT_IDS,
    SAMPLE_PRODUCTS,
    SAMPLE_TAX_PERCENT_RATES,
    SAMPLE_TAX_RATES,
    Api,
    Ids,
)
from ._tables import SampleTaxRate as SampleTaxRate  # the type of SAMPLE_TAX_RATES' values

__all__ = [
    "FAULT_IDS",
    "SAMPLE_PRODUCTS",
    "SAMPLE_TAX_PERCENT_RATES",
    "SAMPLE_TAX_RATES",
    "generate",
    "write_jsonl",
]


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
    return SampleGenerator(invoices, seed, api, faults, ids).run()


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
