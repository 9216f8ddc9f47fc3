"""Issue 6's reconcile, built for real: change the export after a sync, edit the ledger by
hand, paste a duplicate and an orphan into the books, then reconcile through the CLI.

Each discrepancy kind is made by the change a person or Stripe would make; reconcile must
find exactly those, `--fix` must heal the certain ones through the pipeline (and queue
the rest as conflicts), and a second reconcile must find nothing that nobody owns.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import pytest

from billbridge.connectors.beancount import load, posted_keys
from billbridge.samples import write_jsonl

from .conftest import Workspace

FLOW = "stripe-to-books"


def _open_copy(invoice: dict[str, Any], ident: str, number: str) -> dict[str, Any]:
    """An open (unpaid) copy of a paid invoice under a new id and number."""
    new = copy.deepcopy(invoice)
    new["id"], new["number"], new["status"] = ident, number, "open"
    new["amount_paid"], new["amount_remaining"] = 0, new["total"]
    new["status_transitions"]["paid_at"] = None
    for line in new["lines"]["data"]:
        line["invoice"] = ident
    return new


def _block(text: str, idem: str) -> str:
    """The block of billbridge.beancount that holds `idem`, from its date line to the end mark."""
    start = text.index(f'billbridge-idem: "{idem}"')
    head = text.rindex("\n\n", 0, start) + 2 if "\n\n" in text[:start] else 0
    end = text.index("\n\n", start) + 2
    return text[head:end]


def _bump_amount(block: str) -> tuple[str, str]:
    """The block with its amount changed in both legs, keeping the byte length."""
    amount = re.search(r"(?<=-)(\d+\.\d+) ", block)
    assert amount is not None
    old = amount.group(1)
    new = ("8" if old[0] == "9" else str(int(old[0]) + 1)) + old[1:]
    return block.replace(f" {old} ", f" {new} ").replace(f"-{old} ", f"-{new} "), new


def _by_id(records: list[dict[str, Any]], ident: str) -> dict[str, Any]:
    return next(r for r in records if r["id"] == ident)


def _found(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (d["kind"], d["record_key"])
        for flow in report["flows"]
        for d in flow["discrepancies"]
        if not d["queued"]
    }


@pytest.mark.slow
def test_reconcile_finds_each_kind_fixes_the_certain_ones_and_queues_the_rest(
    workspace: Workspace,
) -> None:
    ws = workspace
    records = ws.records()
    paid = _by_id(records, "in_0000000001")
    index = records.index(paid)
    records[index + 1 : index + 1] = [
        _open_copy(paid, "in_recon_void", "RC-0001"),
        _open_copy(paid, "in_recon_paid", "RC-0002"),
    ]
    write_jsonl(ws.export, records)
    code, _ = ws.cli("sync")
    assert code == 1  # the sample's deliberate faults fail; everything else posts
    code, clean = ws.cli("reconcile")
    assert (code, _found(clean)) == (0, set())

    # --- Stripe changes after the sync (the export is re-read as it is now)
    records = ws.records()
    void = _by_id(records, "in_recon_void")
    void["status"], void["amount_remaining"] = "void", 0
    void["status_transitions"]["voided_at"] = void["created"] + 3600
    paid_now = _by_id(records, "in_recon_paid")
    paid_now["status"], paid_now["amount_paid"] = "paid", paid_now["total"]
    paid_now["amount_remaining"] = 0
    paid_now["status_transitions"]["paid_at"] = paid_now["created"] + 3600
    records.append(_open_copy(paid, "in_recon_new", "RC-0003"))
    moved = _by_id(records, "in_0000000001")
    records[records.index(moved)] = orjson.loads(
        orjson.dumps(moved).replace(b'"gbp"', b'"eur"')
    )  # the invoice's currency changed (lines too)
    refund = _by_id(records, "re_0000000997")
    refund["amount"] -= 1
    payout = next(r for r in records if r["object"] == "payout")
    records.insert(
        records.index(payout),
        {
            "id": "txn_recon_adjustment",
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

    # --- a person edits the books: an amount retyped, an entry pasted twice, an orphan
    entries = ws.entries_file.read_text()
    edited_key = f"{FLOW}|stripe:refund:re_0000000305|refund"
    block = _block(entries, edited_key)
    bumped, _ = _bump_amount(block)
    assert len(bumped) == len(block)
    ws.entries_file.write_text(entries.replace(block, bumped))
    dup_key = next(k for k in posted_keys(ws.ledger) if k.endswith("|payment"))
    dup_record = dup_key.split("|")[1]
    with ws.ledger.open("a") as main:
        main.write("\n" + _block(entries, dup_key))
        main.write(
            '\n2024-03-01 * "Payment typed in by hand"\n'
            f'  billbridge-key: "stripe:charge:ch_handmade"\n'
            f'  billbridge-idem: "{FLOW}|stripe:charge:ch_handmade|payment"\n'
            "  Assets:Stripe:Clearing                  10.00 EUR\n"
            "  Assets:Receivable:Stripe               -10.00 EUR\n"
        )
    assert not load(ws.ledger)[1]

    code, report = ws.cli("reconcile")
    expected = {
        ("missing_in_target", "stripe:invoice:in_recon_new"),
        ("status_mismatch", "stripe:invoice:in_recon_void"),
        ("status_mismatch", "stripe:invoice:in_recon_paid"),
        ("currency_mismatch", "stripe:invoice:in_0000000001"),
        ("amount_mismatch", "stripe:refund:re_0000000305"),
        ("amount_mismatch", "stripe:refund:re_0000000997"),
        ("duplicate_posting", dup_record),
        ("orphan_in_target", "stripe:charge:ch_handmade"),
        ("payout_mismatch", f"stripe:payout:{payout['id']}"),
    }
    assert code == 1
    assert _found(report) == expected
    by_kind = {(d["kind"], d["record_key"]): d for d in report["flows"][0]["discrepancies"]}
    edited = by_kind["amount_mismatch", "stripe:refund:re_0000000305"]
    assert edited["owner"] == "books"  # the store's hash matches Stripe: the books moved
    retyped = by_kind["amount_mismatch", "stripe:refund:re_0000000997"]
    assert retyped["owner"] == "stripe"
    assert retyped["difference_minor"] in {-1, 1}
    payout_found = by_kind["payout_mismatch", f"stripe:payout:{payout['id']}"]
    assert payout_found["difference_minor"] == -100
    assert by_kind["duplicate_posting", dup_record]["target_value"] == "2 times"

    html = ws.root / "reconcile.html"
    code, fixed = ws.cli("reconcile", "--fix", "--html", str(html))
    assert code == 0
    fixes = fixed["flows"][0]["fixes"]
    assert sorted(fixes["posted"]) == [
        "stripe:invoice:in_recon_new",
        "stripe:invoice:in_recon_void",
    ]
    assert fixes["reversed"] == [f"{FLOW}|{dup_record}|reversal-payment-1"]
    assert sorted(fixes["queued"]) == sorted(
        {
            "stripe:invoice:in_recon_paid",
            "stripe:invoice:in_0000000001",
            "stripe:refund:re_0000000305",
            "stripe:refund:re_0000000997",
            "stripe:charge:ch_handmade",
            f"stripe:payout:{payout['id']}",
        }
    )
    page = html.read_text()
    assert "<svg" in page and "duplicate_posting" in page and "ch_handmade" in page

    # the books: still valid, the void and the new invoice posted once, the duplicate reversed
    _, errors = load(ws.ledger)
    assert not errors
    keys = posted_keys(ws.ledger)
    assert keys[f"{FLOW}|stripe:invoice:in_recon_void|void"] == 1
    assert keys[f"{FLOW}|stripe:invoice:in_recon_new|issue"] == 1
    assert keys[f"{FLOW}|{dup_record}|reversal-payment-1"] == 1
    _, queue = ws.cli("queue")
    conflicts = {row["record"] for row in queue if row["kind"] == "conflict"}
    assert conflicts == set(fixes["queued"])

    code, again = ws.cli("reconcile")
    assert (code, _found(again)) == (0, set())
    left = {(d["kind"], d["record_key"]) for d in again["flows"][0]["discrepancies"]}
    assert left == expected - {
        ("missing_in_target", "stripe:invoice:in_recon_new"),
        ("status_mismatch", "stripe:invoice:in_recon_void"),
        ("duplicate_posting", dup_record),
    }
    _, audit = ws.cli("audit", "--record", "stripe:invoice:in_recon_void")
    assert "reconcile-fix" in [row["action"] for row in audit]


def test_a_post_fix_the_pipeline_refuses_is_queued_not_reported_fixed(
    workspace: Workspace,
) -> None:
    """Voided and re-dated in Stripe: the void cannot post over a changed issue entry."""
    ws = workspace
    records = ws.records()
    paid = _by_id(records, "in_0000000001")
    records.insert(records.index(paid) + 1, _open_copy(paid, "in_recon_both", "RC-0009"))
    write_jsonl(ws.export, records)
    assert ws.cli("sync")[0] == 1
    records = ws.records()
    both = _by_id(records, "in_recon_both")
    both["status"], both["amount_remaining"] = "void", 0
    both["status_transitions"]["voided_at"] = both["created"] + 60
    both["status_transitions"]["finalized_at"] += 3 * 86400  # the issue entry's date moves
    write_jsonl(ws.export, records)

    _, report = ws.cli("reconcile")
    record = "stripe:invoice:in_recon_both"
    assert _found(report) == {("status_mismatch", record)}
    code, fixed = ws.cli("reconcile", "--fix")
    assert code == 0
    fixes = fixed["flows"][0]["fixes"]
    assert fixes["posted"] == []
    assert fixes["queued"] == [record]
    assert posted_keys(ws.ledger)[f"{FLOW}|{record}|void"] == 0  # nothing half-posted
    _, queue = ws.cli("queue")
    (row,) = [row for row in queue if row["record"] == record]
    assert row["kind"] == "conflict"
    assert "never edits a posting" in row["error"]
