"""The doctor's checks that the seeded e2e workspace does not reach, on both stores.

A mapping with entities, exchange rates and a country tax rule, over stored snapshots of
sample records: products and currencies with no mapping, countries no rule names,
records no entity takes, an entity nobody uses, and a setup too wide for one object.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from billbridge.engine.doctor import diagnose
from billbridge.engine.mapping_change import FlowRef
from billbridge.engine.mapping_test import SnapshotPlanner
from billbridge.formats.stripe import normalize
from billbridge.mapping.model import load_mapping
from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES, generate
from billbridge.store import Batch, RecordRow, Store, open_store

MAPPING = """\
timezone: Europe/Berlin
currency: EUR
accounts:
  receivable: Assets:Receivable
  clearing: Assets:Clearing
  fees: Expenses:Fees
  refunds: Income:Refunds
  bank: Assets:Bank
  revenue: Income:Sales
products:
{products}
tax_rates:
{rates}
tax_rules:
  - {{rate: txr_de_vat19, country: DE, account: Liabilities:VAT:DE}}
fx:
  rates:
    - {{date: 2023-12-01, pair: USD/EUR, rate: "0.9000"}}
  max_age_days: 31
  gain: Income:FX-Gain
  loss: Expenses:FX-Loss
entities:
  - {{name: eu, currency: EUR, match: {{currency: [EUR, USD]}}}}
  - {{name: gb, currency: EUR, match: {{currency: [GBP]}}}}
  - {{name: never, match: {{currency: [CHF]}}}}
"""


@pytest.fixture
def store(state_url: str) -> Any:
    opened = open_store(state_url)
    yield opened
    opened.close()


def _stored(store: Store) -> None:
    now = datetime.now(UTC)
    rows = [
        RecordRow(key=f"stripe:{o['object']}:{o['id']}", connection="stripe", object=o["object"],
                  source_id=o["id"], version="v", snapshot=orjson.dumps(o), seen_at=now)
        for o in generate(invoices=40, seed=7, api="current")
    ]  # fmt: skip
    store.commit(Batch(records=rows, flow_versions=[("f", r.key, "v") for r in rows]))


def test_gaps_unused_entities_and_wide_setups(tmp_path: Path, store: Store) -> None:
    products = [p for p in SAMPLE_PRODUCTS if p != "prod_seat"]
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING.format(
        products="\n".join(f"  {p}: Income:Sales:{p[5:].title()}" for p in products),
        rates="\n".join(f"  {r}: Liabilities:Tax:{r[4:].upper().replace('_', '-')}"
                         for r in SAMPLE_TAX_RATES),
    ))  # fmt: skip
    mapping = load_mapping(path)
    _stored(store)
    ref = FlowRef(name="f", source="stripe", target="books", mapping_path=path, production=True)
    planner = SnapshotPlanner(store, flow="f", connection="stripe", normalize=normalize)
    found = diagnose(
        store, ref, mapping=mapping, promoted=mapping.version, file_version=mapping.version,
        planner=planner, last=10_000, ledger=None, now=datetime.now(UTC),
    )  # fmt: skip
    kinds = {(f.kind, f.subject) for f in found}
    assert ("unmapped_product", "prod_seat") in kinds
    seat = next(f for f in found if f.subject == "prod_seat")
    assert "posts to accounts.revenue (Income:Sales)" in seat.detail
    assert ("unmapped_currency", "GBP") in kinds  # the gb entity converts, with no GBP/EUR rate
    assert ("unmapped_currency", "USD") not in kinds
    countries = {s for k, s in kinds if k == "unmapped_country"}
    assert countries and "DE" not in countries and countries <= {"FR", "GB", "US", "JP", "KW"}
    unrouted = {s for k, s in kinds if k == "unrouted"}
    assert unrouted and all(s.startswith(("currency JPY", "currency KWD")) for s in unrouted)
    assert ("unused_rule", "entities.never") in kinds
    assert ("unused_rule", "entities.eu") not in kinds
    assert ("unused_rule", "tax_rates.txr_de_vat19") in kinds  # the DE tax rule takes it
    assert ("unused_rule", "tax_rules[0]") not in kinds
    wide = next(f for f in found if f.kind == "wide_setup" and f.subject == "invoice")
    assert "entities" in wide.detail and "tax_rules" in wide.detail
    assert not [f for f in found if f.kind.startswith("draft") or f.kind == "oldest_queue_row"]
