"""Issue 17's `billbridge doctor` on a seeded workspace, both stores: exactly what was seeded.

The workspace's data uses every product, tax rate and account its mapping names, except
what is seeded: an invoice at a tax rate the mapping lacks (whose record is therefore
the queue's oldest row), a tax-rate rule no record uses, an account the ledger's own
chart does not open, and a mapping draft on disk that nobody tested.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.config import load_workspace
from billbridge.mapping.model import load_mapping
from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES, generate, write_jsonl

FLOW = "stripe-to-books"
UNMAPPED = "txr_at_vat20"
BROKEN = "stripe:invoice:in_doctor_unmapped"
CONFIG = """\
connections:
  stripe: {connector: stripe, export: exports/stripe.jsonl}
  books: {connector: beancount, path: books/main.beancount}
flows:
  - {name: stripe-to-books, from: stripe, to: books, mapping: mapping.yaml}
"""
ACCOUNTS = {
    "receivable": "Assets:Receivable:Stripe",
    "clearing": "Assets:Stripe:Clearing",
    "fees": "Expenses:Stripe:Fees",
    "refunds": "Income:Refunds",
    "bank": "Assets:Bank:Checking",
}
PRODUCTS = {p: f"Income:Sales:{p.removeprefix('prod_').title()}" for p in SAMPLE_PRODUCTS}
RATES = {r: f"Liabilities:Tax:{r.removeprefix('txr_').upper().replace('_', '-')}"
         for r in SAMPLE_TAX_RATES}  # fmt: skip
NEVER = ("txr_never", "Liabilities:Tax:Never")


def _mapping() -> str:
    lines = ["timezone: Europe/Berlin", "accounts:"]
    lines += [f"  {k}: {v}" for k, v in ACCOUNTS.items()]
    lines += ["products:", *(f"  {k}: {v}" for k, v in PRODUCTS.items())]
    lines += ["tax_rates:", *(f"  {k}: {v}" for k, v in [*RATES.items(), NEVER])]
    return "\n".join(lines) + "\n"


def _records() -> list[dict[str, Any]]:
    records = list(generate(invoices=40, seed=7, api="current"))
    paid = next(r for r in records if r["object"] == "invoice" and r["status"] == "paid"
                and r["currency"] == "eur")  # fmt: skip
    broken = copy.deepcopy(paid)
    broken.update(id=BROKEN.rsplit(":", 1)[1], number="DOC-1", status="open", amount_paid=0,
                  created=int(paid["created"]) + 60)  # fmt: skip
    for line in broken["lines"]["data"]:
        line["invoice"] = broken["id"]
        for tax in line.get("taxes") or []:
            tax["tax_rate_details"] = {"tax_rate": UNMAPPED}
    for tax in broken.get("total_taxes") or []:
        tax["tax_rate_details"] = {"tax_rate": UNMAPPED}
    payout = {"id": "po_doctor", "object": "payout", "amount": 1000, "currency": "eur",
              "created": int(paid["created"]) + 120, "arrival_date": int(paid["created"]) + 9000,
              "status": "paid", "destination": "ba_doctor"}  # fmt: skip
    return [*records, broken, payout]


def _ledger(root: Path) -> None:
    """The user's chart opens every mapped account but the fees account."""
    opened = [*ACCOUNTS.values(), *PRODUCTS.values(), *RATES.values(), NEVER[1]]
    opened.remove(ACCOUNTS["fees"])
    text = ['include "billbridge-accounts.beancount"', 'include "billbridge.beancount"', ""]
    text += [f"1970-01-01 open {account}" for account in opened]
    (root / "books").mkdir(parents=True)
    (root / "books" / "main.beancount").write_text("\n".join(text) + "\n")


@pytest.fixture
def root(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BILLBRIDGE_STATE", state_url)
    root = tmp_path / "ws"
    (root / "exports").mkdir(parents=True)
    (root / "billbridge.yaml").write_text(CONFIG)
    (root / "mapping.yaml").write_text(_mapping())
    write_jsonl(root / "exports" / "stripe.jsonl", _records())
    _ledger(root)
    return root


def _cli(root: Path, *args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, ["-w", str(root), *args, "--json"],
                                env={"BILLBRIDGE_ACTOR": "tester"})  # fmt: skip
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, orjson.loads(result.stdout)


def test_doctor_reports_exactly_what_was_seeded(root: Path) -> None:
    code, run = _cli(root, "sync")
    assert code == 1 and run["counts"]["failed"] == 1  # the invoice at the unmapped rate
    code, report = _cli(root, "doctor")
    assert code == 1
    assert report["findings"] and report["counts"]["oldest_queue_row"] == 1
    mapping = root / "mapping.yaml"
    mapping.write_text(mapping.read_text().replace(
        "products:\n", "products:\n  prod_new: Income:Sales:New\n"))  # fmt: skip
    draft = load_mapping(mapping).version
    load_workspace(root)  # still a valid workspace

    code, report = _cli(root, "doctor")
    assert code == 1
    found = {(f["kind"], f["subject"]): f for f in report["findings"]}
    assert set(found) == {
        ("unmapped_tax_rate", UNMAPPED),
        ("unused_rule", "tax_rates.txr_never"),
        ("account_missing_in_ledger", ACCOUNTS["fees"]),
        ("draft_untested", draft),
        ("oldest_queue_row", BROKEN),
    }
    assert all(f["flow"] == FLOW and f["detail"] and f["fix"] for f in found.values())
    assert f"`{UNMAPPED}: Liabilities:…` under `tax_rates:`" in found[
        ("unmapped_tax_rate", UNMAPPED)]["fix"]  # fmt: skip
    assert f"(e.g. {BROKEN})" in found[("unmapped_tax_rate", UNMAPPED)]["detail"]
    assert "remove it from mapping.yaml" in found[("unused_rule", "tax_rates.txr_never")]["fix"]
    missing = found[("account_missing_in_ledger", ACCOUNTS["fees"])]
    assert "accounts.fees" in missing["detail"] and "main.beancount" in missing["detail"]
    assert f"open {ACCOUNTS['fees']}" in missing["fix"]
    assert f"billbridge mapping test {FLOW}" in found[("draft_untested", draft)]["fix"]
    assert "txr_at_vat20" in found[("oldest_queue_row", BROKEN)]["detail"]

    text = CliRunner().invoke(app, ["-w", str(root), "doctor"], env={"BILLBRIDGE_ACTOR": "t"})
    assert text.exit_code == 1
    assert "fix: open Expenses:Stripe:Fees in your ledger" in " ".join(text.stdout.split())
