"""A SOURCE connector from another package runs a flow end to end into Beancount.

The plugin (`tests/plugins/billbridge_orders.py`, found through the entry point) reads an
invoicing tool's own JSON lines, in no Stripe shape, and brings its own normalizer: the
engine posts its canonical invoices and payments with the same rules, outcomes, queue
and exactly-once as Stripe's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from billbridge.connectors.beancount import load, posted_keys
from billbridge.workspace_files import create_workspace

from .conftest import Workspace

FLOW = "orders-to-books"
CONFIG = """\
connections:
  orders:
    connector: orders-file
    path: exports/orders.jsonl
  books:
    connector: beancount
    path: books/main.beancount
flows:
  - name: orders-to-books
    from: orders
    to: books
    mapping: mapping.yaml
state: .billbridge/state.db
"""


def bill(ref: str, no: str, net: str, vat: str, *, day: str = "2026-03-04") -> dict[str, Any]:
    total = f"{float(net) + float(vat):.2f}"
    return {
        "kind": "bill", "ref": ref, "no": no, "issued": day, "ccy": "EUR", "total": total,
        "client": {"code": "C7", "name": "Globex GmbH", "country": "DE"},
        "items": [{"text": "Pro plan", "sku": "pro", "qty": "1", "net": net,
                   "vat": "de19", "vat_amount": vat}],
    }  # fmt: skip


def receipt(ref: str, bill_ref: str, gross: str, fee: str) -> dict[str, Any]:
    return {"kind": "receipt", "ref": ref, "bill": bill_ref, "on": "2026-03-10", "ccy": "EUR",
            "gross": gross, "fee": fee}  # fmt: skip


def refund(ref: str, receipt_ref: str, bill_ref: str, amount: str) -> dict[str, Any]:
    return {"kind": "refund", "ref": ref, "receipt": receipt_ref, "bill": bill_ref,
            "on": "2026-03-12", "ccy": "EUR", "amount": amount}  # fmt: skip


def orders_workspace(root: Path, state_url: str, lines: list[dict[str, Any]]) -> Workspace:
    create_workspace(
        root,
        products={"pro": "Income:Sales:Pro"},
        tax_rates={"de19": "Liabilities:Tax:DE-VAT19"},
        timezone="Europe/Berlin",
    )
    (root / "billbridge.yaml").write_text(CONFIG)
    write_lines(root / "exports" / "orders.jsonl", lines)
    return Workspace(root=root, state_url=state_url)


def write_lines(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.usefixtures("plugin_site")
def test_a_plugin_source_with_its_own_normalizer_posts_to_beancount(tmp_path: Path) -> None:
    lines = [
        receipt("R-1", "B-1", "119.00", "1.20"),  # before its bill: held, then released
        bill("B-1", "INV-2026-0001", "100.00", "19.00"),
        bill("B-2", "INV-2026-0002", "50.00", "9.50"),
        {**bill("B-3", "INV-2026-0003", "10.00", "1.90"), "ccy": "EURO"},  # a bad currency
        refund("F-1", "R-2", "B-2", "10.00"),  # before its payment: held, then released
        receipt("R-2", "B-2", "59.50", "0.60"),
    ]
    ws = orders_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", lines)
    code, run = ws.cli("sync")
    assert code == 1, run  # the bad bill fails alone
    assert run["counts"] == {
        "synced": 5, "unchanged": 0, "failed": 1, "held": 0, "conflict": 0,
    }  # fmt: skip
    assert run["posted"] == 5
    _, queue = ws.cli("queue")
    assert [(row["record"], row["field"]) for row in queue] == [("orders:invoice:B-3", "ccy")]
    assert "'EURO' is not an ISO 4217 currency" in queue[0]["error"]

    _, errors = load(ws.ledger)
    assert not errors  # bean-check clean: every entry balances
    assert dict(posted_keys(ws.ledger)) == {
        f"{FLOW}|orders:invoice:B-1|issue": 1,
        f"{FLOW}|orders:invoice:B-2|issue": 1,
        f"{FLOW}|orders:payment:R-1|payment": 1,
        f"{FLOW}|orders:payment:R-2|payment": 1,
        f"{FLOW}|orders:refund:F-1|refund": 1,
    }
    text = ws.entries_file.read_text()
    assert '"Invoice INV-2026-0001 — Globex GmbH"' in text
    assert "Liabilities:Tax:DE-VAT19" in text and "^B-1" in text
    # The engine reads the invoice's number off the canonical object (the plugin gives
    # no `describe`), never from the raw line, whose fields it does not know.
    assert '"Payment for INV-2026-0001 (transfer, fee 1.20 EUR)"' in text
    assert '"Refund for INV-2026-0002"' in text

    code, again = ws.cli("sync")
    assert again["posted"] == 0
    assert again["counts"]["unchanged"] == 6  # the bad bill too: same bytes, same outcome
    assert ws.entries_file.read_text() == text


@pytest.mark.usefixtures("plugin_site")
def test_sync_since_reads_the_date_off_the_canonical_object(tmp_path: Path) -> None:
    lines = [
        bill("B-1", "INV-1", "100.00", "19.00", day="2026-02-27"),
        bill("B-2", "INV-2", "50.00", "9.50", day="2026-03-02"),
    ]
    ws = orders_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", lines)
    code, run = ws.cli("sync", "--backfill", "--since", "2026-03-01")
    assert code == 0, run
    assert dict(posted_keys(ws.ledger)) == {f"{FLOW}|orders:invoice:B-2|issue": 1}
