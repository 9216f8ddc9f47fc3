"""The morning-queue scenario of issue 18, as a workspace: 54 failures, 3 causes.

50 invoices taxed at a rate the mapping lacks (`txr_at_vat20`), 3 in a currency that is
no ISO 4217 code (`xyz`), 1 whose lines do not add up to its total; every other record
of the sample export posts. The paid invoices' payments wait (held) on their invoice.
Shared by the CLI, API and browser tests, so all three prove the same story.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES, generate, write_jsonl
from billbridge.workspace_files import create_workspace
from tests.e2e.conftest import sandbox_ledger

UNMAPPED_RATE = "txr_at_vat20"
TAX_CAUSE = f"tax-rate:{UNMAPPED_RATE}"
CURRENCY_CAUSE = "currency:xyz"
TOTAL_CAUSE = "total"
TAXED, BAD_CURRENCY, INCONSISTENT = 50, 3, 1
FIX_LINE = f"  {UNMAPPED_RATE}: Liabilities:Tax:AT-VAT20\n"


def accounts() -> tuple[dict[str, str], dict[str, str]]:
    products = {
        p: f"Income:Sales:{p.removeprefix('prod_').title().replace('_', '-')}"
        for p in SAMPLE_PRODUCTS
    }
    rates = {
        r: f"Liabilities:Tax:{r.removeprefix('txr_').upper().replace('_', '-')}"
        for r in SAMPLE_TAX_RATES
    }
    return products, rates


def _objects(invoices: int) -> Iterator[dict[str, Any]]:
    seen = 0
    for made in generate(invoices=invoices, seed=18, api="current"):
        obj = made
        if obj.get("object") == "invoice" and obj.get("status") == "paid":
            obj = copy.deepcopy(made)  # the generator builds later records from this dict
            seen += 1
            if seen <= TAXED:
                for line in obj["lines"]["data"]:
                    for tax in line.get("taxes") or []:
                        tax["tax_rate_details"] = {"tax_rate": UNMAPPED_RATE}
                for tax in obj.get("total_taxes") or []:
                    tax["tax_rate_details"] = {"tax_rate": UNMAPPED_RATE}
            elif seen <= TAXED + BAD_CURRENCY:
                obj["currency"] = "xyz"
            elif seen == TAXED + BAD_CURRENCY + INCONSISTENT:
                obj["total"] += 100
        yield obj


def make_scenario(root: Path, *, invoices: int = 80) -> Path:
    """A workspace in `root` holding the scenario's export (not yet synced)."""
    products, rates = accounts()
    create_workspace(root, products=products, tax_rates=rates, timezone="Europe/Berlin")
    # One finance person fixing the mapping and replaying: a sandbox ledger, where an edited
    # mapping runs at once (on production it is a draft until tested and promoted).
    sandbox_ledger(root)
    write_jsonl(root / "exports" / "stripe.jsonl", _objects(invoices))
    return root


def fix_mapping(root: Path) -> None:
    """The one mapping fix the tax-rate cause asks for."""
    mapping = root / "mapping.yaml"
    mapping.write_text(mapping.read_text().replace("tax_rates:\n", "tax_rates:\n" + FIX_LINE, 1))
