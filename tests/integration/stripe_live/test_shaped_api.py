"""Backfill of what localstripe lacks, from a Stripe-shaped API (see _shaped.py).

The same objects (current API shape, `billbridge.samples`: credit notes, invoice
payments, refunds, payouts) are synced once from an export file and once from the
API: both ledgers must hold the same postings. One invoice has 25 lines, of which a
list shows 10; the source fetches the rest from `/v1/invoices/{id}/lines`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from beancount import loader
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.samples import generate, write_jsonl
from billbridge.workspace_files import create_workspace

from ...e2e.conftest import mapping_accounts
from ._shaped import shaped_stripe
from ._webhooks import EXPORT_LINE

KEY = "sk_test_shaped"


def _objects() -> list[dict[str, Any]]:
    objects = list(generate(invoices=200, seed=7, api="current"))
    long = next(o for o in objects if o["object"] == "invoice" and o["status"] == "paid")
    line = long["lines"]["data"][0]
    extra = [{**line, "id": f"{line['id']}_{n}", "amount": 0} for n in range(24)]
    for item in extra:
        for tax in item.get("taxes") or []:
            tax["amount"] = 0
            tax["taxable_amount"] = 0
    long["lines"] = {**long["lines"], "data": [line, *extra]}
    return objects


def _workspace(root: Path, source: str) -> Path:
    products, rates = mapping_accounts()
    create_workspace(root, products=products, tax_rates=rates)
    config = root / "billbridge.yaml"
    config.write_text(
        config.read_text().replace(
            EXPORT_LINE,
            source,
        )
    )
    return root


def _sync(root: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["sync", "-w", str(root), "--backfill", "--json"],
        env={"STRIPE_API_KEY": KEY, "BILLBRIDGE_ACTOR": "tester"},
    )
    data: dict[str, Any] = orjson.loads(result.stdout)
    return data


def _ledger(root: Path) -> dict[str, str]:
    entries, errors, _ = loader.load_file(str(root / "books" / "main.beancount"))
    assert errors == []
    out = {}
    for entry in entries:
        key = entry.meta.get("billbridge-key")
        if key:
            facet = entry.meta.get("billbridge-facet", "")
            postings = sorted(f"{p.account} {p.units}" for p in entry.postings)
            out[f"{key}|{facet}|{entry.date}"] = ";".join(postings)
    return out


def test_live_backfill_posts_what_the_export_posts(tmp_path: Path) -> None:
    objects = _objects()
    exported = _workspace(tmp_path / "export", "    export: exports/stripe.jsonl\n")
    write_jsonl(exported / "exports" / "stripe.jsonl", objects)
    from_export = _sync(exported)

    with shaped_stripe(objects) as (base, paths):
        live = _workspace(
            tmp_path / "live",
            f"    api_key: ${{STRIPE_API_KEY}}\n    api_base: {base}\n"
            '    api_version: "2025-03-31.basil"\n',
        )
        from_api = _sync(live)
    assert from_api["counts"] == from_export["counts"]
    assert from_api["posted"] == from_export["posted"] > 0
    assert _ledger(live) == _ledger(exported)
    kinds = {k.split(":")[1] for k in _ledger(live)}
    assert {"invoice", "charge", "refund", "credit_note", "payout"} <= kinds
    long = next(o for o in objects if len(o.get("lines", {}).get("data", [])) == 25)
    assert f"/v1/invoices/{long['id']}/lines" in paths
    assert "/v1/invoice_payments" in paths and "/v1/credit_notes" in paths
