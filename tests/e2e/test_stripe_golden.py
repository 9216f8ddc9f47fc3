"""The Stripe flow behaves exactly as before the hub opened to other sources (issue 15).

The golden files under tests/data/golden/ were written by the code BEFORE the normalizer,
look-ups, aliases, event parsing and reconcile's Stripe checks moved behind the
connector's spec. Each case syncs a sample export (both API shapes the normalizer claims,
the deliberate faults included), then changes the export the way Stripe would and asks
reconcile, and compares, byte for byte: the Beancount file billbridge appends to, the
exception queue (what failed, why, the hint) and reconcile's findings.

Regenerate (only on purpose, and say why in the commit): BILLBRIDGE_WRITE_GOLDEN=1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from billbridge.samples import generate, write_jsonl

from .conftest import Workspace, make_workspace

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
_WRITE = os.environ.get("BILLBRIDGE_WRITE_GOLDEN") == "1"


def _check(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if _WRITE:
        path.write_bytes(data)
    assert path.exists(), f"no golden file {path}; write it from the old code"
    assert data == path.read_bytes(), f"{name} differs from the golden file"


def _unpaid_in_export(ws: Workspace) -> None:
    """Drop the payment of one paid invoice from the export: paid in Stripe, no payment."""
    records = ws.records()
    paid = [r for r in records if r["object"] == "invoice" and r.get("status") == "paid"]
    ident = paid[7]["id"]
    money = {"charge", "invoice_payment", "balance_transaction", "refund", "payment_intent"}
    marks = {ident}
    dropped: set[str] = set()
    while True:  # the payment, and everything that names it, transitively
        more = {
            r["id"]
            for r in records
            if r["object"] in money
            and r["id"] not in dropped
            and any(m.encode() in orjson.dumps(r) for m in marks)
        }
        if not more:
            break
        dropped |= more
        marks |= more
        marks |= {
            r["payment_intent"]
            for r in records
            if r["id"] in more and isinstance(r.get("payment_intent"), str)
        }
        marks |= {
            r["payment"]["payment_intent"]
            for r in records
            if r["id"] in more and isinstance(r.get("payment"), dict)
        }
    kept = [r for r in records if r["id"] not in dropped]
    assert len(kept) < len(records) - 1
    write_jsonl(ws.export, kept)


def _queue(ws: Workspace) -> bytes:
    _, rows = ws.cli("queue")
    kept = [
        {k: row.get(k) for k in ("record", "kind", "field", "error", "hint", "waiting_on")}
        for row in rows
    ]
    kept.sort(key=lambda r: (r["record"], r["kind"]))
    text = orjson.dumps(kept, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    return text.replace(str(ws.root).encode(), b"<workspace>")


def _findings(report: dict[str, Any]) -> bytes:
    kept = [
        {k: v for k, v in d.items() if k != "since"}
        for flow in report["flows"]
        for d in flow["discrepancies"]
    ]
    return orjson.dumps(kept, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def _stripe_changes(ws: Workspace) -> None:
    """What Stripe does after a sync: a void, a refund amount, a payout that does not add up."""
    records = ws.records()
    invoices = [r for r in records if r["object"] == "invoice" and r.get("status") == "paid"]
    voided = invoices[3]
    voided["status"] = "void"
    if "amount_remaining" in voided:
        voided["amount_remaining"] = 0
    transitions = voided.get("status_transitions")
    if isinstance(transitions, dict):
        transitions["voided_at"] = voided["created"] + 3600
    refund = next(r for r in records if r["object"] == "refund")
    refund["amount"] -= 1
    payout = next((r for r in records if r["object"] == "payout"), None)
    if payout is None:  # the 2017 sample has none: add one that does not add up
        last = records[-1]
        payout = {
            "id": "po_golden",
            "object": "payout",
            "amount": 5000,
            "currency": refund["currency"],
            "status": "paid",
            "created": last["created"] + 60,
            "arrival_date": last["created"] + 86_400,
        }
        records.append(payout)
    records.insert(
        records.index(payout),
        {
            "id": "txn_golden_adjustment",
            "object": "balance_transaction",
            "amount": 100,
            "currency": payout["currency"],
            "fee": 0,
            "net": 100,
            "type": "adjustment",
            "status": "available",
            "created": payout["created"] - 1,
        },
    )
    write_jsonl(ws.export, records)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "api", "invoices", "seed"),
    [("current", "current", 150, 5), ("v2017", "2017-08-15", 90, 11)],
)
def test_the_stripe_flow_writes_the_same_bytes_as_before(
    tmp_path: Path, case: str, api: Any, invoices: int, seed: int
) -> None:
    ws = make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}")
    mapping = ws.root / "mapping.yaml"
    text = mapping.read_text()
    # The 2017 shape names a tax rate by its percentage (no tax-rate objects on invoices).
    rates = {"19.0": "DE-VAT19", "20.0": "FR-VAT20", "7.25": "US-CA", "8.875": "US-NY",
             "10.0": "JP-CT10"}  # fmt: skip
    extra = "".join(f'  "tax_percent:{p}": Liabilities:Tax:{a}\n' for p, a in rates.items())
    mapping.write_text(text.replace("tax_rates:\n", "tax_rates:\n" + extra))
    write_jsonl(ws.export, generate(invoices=invoices, seed=seed, api=api, faults=True))
    _unpaid_in_export(ws)
    code, run = ws.cli("sync")
    assert code == 1, run  # the deliberate faults fail
    _check(f"{case}.beancount", ws.entries_file.read_bytes())
    _check(f"{case}.queue.json", _queue(ws))
    code, report = ws.cli("reconcile")
    _check(f"{case}.reconcile-clean.json", _findings(report))
    _stripe_changes(ws)
    code, report = ws.cli("reconcile")
    assert code == 1, report
    _check(f"{case}.reconcile.json", _findings(report))
    code, fixed = ws.cli("reconcile", "--fix")
    _check(
        f"{case}.reconcile-fix.json",
        orjson.dumps(fixed["flows"][0]["fixes"], option=orjson.OPT_SORT_KEYS),
    )
    _check(f"{case}.after-fix.beancount", ws.entries_file.read_bytes())
