"""Changes a person makes in the source between two syncs, and what a run leaves behind.

The crash tests change the export after a kill (a date, an amount, a voided invoice) and
compare the outcome with a workspace that never crashed and saw the same change: the
same ledger (keys, amounts per account and currency), the same queue, the same reconcile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from billbridge.connectors import beancount

from .conftest import Workspace

Change = Callable[[list[dict[str, Any]]], str]  # edits the records, returns the record key
DAY = 86_400


def _invoice(records: list[dict[str, Any]], status: str, *, skip: int = 0) -> dict[str, Any]:
    found = [
        r
        for r in records
        if r["object"] == "invoice" and r.get("status") == status and "fault" not in r["id"]
    ]
    return found[skip]


def leave_open(ws: Workspace, count: int = 3) -> None:
    """Make the first `count` paid invoices open (unpaid) and drop their payments, so a test
    has open invoices to change, and they are the first records a sync writes. Done to
    both workspaces before their first sync."""
    records = ws.records()
    paid = [r for r in records if r["object"] == "invoice" and r.get("status") == "paid"]
    dropped: set[str] = set()
    for inv in paid[:count]:
        inv["status"] = "open"
        inv["amount_remaining"] = inv["amount_due"] = inv["total"]
        inv["amount_paid"] = 0
        inv["status_transitions"]["paid_at"] = None
        dropped.add(inv["id"])
    kept: list[dict[str, Any]] = []
    charges: set[str] = set()
    for r in records:
        if r["object"] == "invoice_payment" and r["invoice"] in dropped:
            charges.add(r["payment"].get("payment_intent") or "")
            continue
        kept.append(r)
    kept = [
        r
        for r in kept
        if not (r["object"] == "charge" and r.get("payment_intent") in charges)
        and not (
            r["object"] == "balance_transaction"
            and any(
                c["id"] == r.get("source") for c in records if c.get("payment_intent") in charges
            )
        )
    ]
    # the open invoices come right after the customers: the first records a sync writes
    first = [r for r in kept if r["object"] == "customer"]
    first += [r for r in kept if r["object"] == "invoice" and r["id"] in dropped]
    rest = [r for r in kept if r["object"] != "customer" and r["id"] not in dropped]
    ws.export.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in first + rest))


def move_date(records: list[dict[str, Any]]) -> str:
    """An open invoice's issue date moves five days later."""
    inv = _invoice(records, "open")
    inv["created"] += 5 * DAY
    transitions = inv.get("status_transitions") or {}
    if transitions.get("finalized_at"):
        transitions["finalized_at"] += 5 * DAY
    return f"stripe:invoice:{inv['id']}"


def raise_amount(records: list[dict[str, Any]]) -> str:
    """An open invoice's first line costs one major unit more (totals follow, tax does not)."""
    inv = _invoice(records, "open", skip=1)
    step = {"jpy": 1, "kwd": 1000}.get(inv["currency"], 100)
    inv["lines"]["data"][0]["amount"] += step
    for field in ("subtotal", "total", "amount_due", "amount_remaining", "total_excluding_tax"):
        if field in inv:
            inv[field] += step
    return f"stripe:invoice:{inv['id']}"


def void_invoice(records: list[dict[str, Any]]) -> str:
    """An open invoice is voided in the source."""
    inv = _invoice(records, "open", skip=2)
    inv["status"] = "void"
    transitions = inv.setdefault("status_transitions", {})
    transitions["voided_at"] = inv["created"] + DAY
    inv["amount_due"] = inv.get("amount_due", 0)
    return f"stripe:invoice:{inv['id']}"


CHANGES: dict[str, Change] = {"date": move_date, "amount": raise_amount, "void": void_invoice}


def change_source(ws: Workspace, change: Change) -> str:
    """Apply `change` to the workspace's export file; return the changed record's key."""
    records = ws.records()
    key = change(records)
    ws.export.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return key


@dataclass(frozen=True)
class Books:
    """What a workspace ends with: ledger keys and amounts, queue, conflicts audited."""

    keys: Counter[str]
    amounts: dict[tuple[str, str], Decimal]
    queue: set[tuple[str, str, str]]  # (record, kind, field)
    conflicts_audited: set[str]
    reconcile: set[tuple[str, str]]  # (kind, record)


def books_of(ws: Workspace) -> Books:
    """Read back from the ledger itself and from the CLI's own JSON answers."""
    _code, queue = ws.cli("queue")
    _code, audit = ws.cli("audit", "--limit", "1000000")
    _code, found = ws.cli("reconcile")
    return Books(
        keys=beancount.posted_keys(ws.ledger),
        amounts={k: v for k, v in beancount.balances(ws.ledger).items() if v},
        queue={(q["record"], q["kind"], q["field"]) for q in queue},
        conflicts_audited={a["record"] for a in audit if a["action"] == "conflict"},
        reconcile={
            (d["kind"], d["record_key"]) for f in found["flows"] for d in f["discrepancies"]
        },
    )
