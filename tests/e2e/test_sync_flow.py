"""Issue 3's whole flow: a Stripe export of several hundred records → Beancount, via the CLI.

The export holds the deliberate faults of `billbridge.samples` (a bad currency, lines
not summing to the total, an unmapped tax rate, a payment arriving before its invoice)
beside partial refunds, credit notes, voids and JPY/KWD invoices. Expectations are
computed from the raw export here, independently of the engine's posting rules.
"""

from __future__ import annotations

import subprocess
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from beancount.core import data as bc

from billbridge.connectors.beancount import load, posted_keys
from billbridge.domain import minor_units

from .conftest import Workspace

FLOW = "stripe-to-books"
FAULTS = {
    "stripe:invoice:in_fault_bad_currency": "currency",
    "stripe:invoice:in_fault_total_mismatch": "total",
    "stripe:invoice:in_fault_unmapped_tax": "tax_rates",
}


def expected_facets(records: list[dict[str, Any]]) -> set[str]:
    """Idempotency keys every good record should have in the ledger, from the raw data."""
    keys: set[str] = set()

    def add(obj: dict[str, Any], *facets: str) -> None:
        record = f"stripe:{obj['object']}:{obj['id']}"
        if record not in FAULTS:
            keys.update(f"{FLOW}|{record}|{facet}" for facet in facets)

    for obj in records:
        kind, status = obj["object"], obj.get("status")
        if kind == "invoice" and status in {"open", "paid", "uncollectible"}:
            add(obj, "issue")
        elif kind == "invoice" and status == "void":
            add(obj, "issue", "void")
        elif kind == "charge" and status == "succeeded":
            add(obj, "payment")
        elif kind == "refund" and status == "succeeded":
            add(obj, "refund")
        elif kind == "credit_note":
            add(obj, *(("credit", "credit-void") if status == "void" else ("credit",)))
        elif kind == "payout" and status == "paid":
            add(obj, "payout")
    return keys


def _decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_units(currency.upper()))


def source_totals(records: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
    """Per (facet, currency): what the source says should reach the books."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    wanted = expected_facets(records)
    for obj in records:
        record = f"stripe:{obj['object']}:{obj['id']}"
        cur = str(obj.get("currency", "")).upper()
        field = {
            "invoice": ("issue", "total"),
            "charge": ("payment", "amount"),
            "refund": ("refund", "amount"),
            "credit_note": ("credit", "total"),
            "payout": ("payout", "amount"),
        }.get(obj["object"])
        if field and f"{FLOW}|{record}|{field[0]}" in wanted:
            totals[(field[0], cur)] += _decimal(obj[field[1]], cur)
    return dict(totals)


def ledger_totals(ws: Workspace) -> dict[tuple[str, str], Decimal]:
    """Per (facet, currency): the same figures, read back from the ledger's postings."""
    entries, errors = load(ws.ledger)
    assert not errors, errors
    account = {
        "issue": ("Assets:Receivable:Stripe", 1),
        "payment": ("Assets:Receivable:Stripe", -1),
        "refund": ("Income:Refunds", 1),
        "payout": ("Assets:Bank:Checking", 1),
    }
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        if not isinstance(entry, bc.Transaction) or "billbridge-idem" not in entry.meta:
            continue
        facet = entry.meta["billbridge-idem"].split("|")[2]
        for posting in entry.postings:
            cur = posting.units.currency
            if facet == "credit" and posting.account in {
                "Assets:Receivable:Stripe",
                "Income:Refunds",
            }:
                totals[(facet, cur)] -= posting.units.number
            elif facet in account and posting.account == account[facet][0]:
                totals[(facet, cur)] += account[facet][1] * posting.units.number
    return dict(totals)


def test_sync_posts_every_good_record_once_and_queues_the_bad_ones(workspace: Workspace) -> None:
    records = workspace.records()
    assert len(records) > 300
    currencies = {r["currency"] for r in records if r["object"] == "invoice"}
    assert {"jpy", "kwd", "eur"} <= currencies
    assert any(r["object"] == "credit_note" for r in records)
    assert any(r["object"] == "invoice" and r["status"] == "void" for r in records)

    code, run = workspace.cli("sync")
    assert code == 1  # finished, some records failed
    assert run["counts"]["failed"] == len(FAULTS)
    assert run["counts"]["held"] == 0  # the early payment was released when its invoice posted
    assert sum(run["counts"].values()) == len(records)

    code, queue = workspace.cli("queue")
    assert code == 0
    assert {item["record"]: item["field"] for item in queue} == FAULTS
    for item in queue:
        assert item["field"] and item["error"]
        assert item["hint"] and item["kind"] == "failed" and item["attempts"] == 1
    unmapped = next(i for i in queue if i["field"] == "tax_rates")
    assert "txr_unmapped_xx" in unmapped["error"] and "mapping.yaml" in unmapped["error"]

    counts = posted_keys(workspace.ledger)
    assert set(counts) == expected_facets(records)
    assert set(counts.values()) == {1}
    assert subprocess.run([_bean_check(), str(workspace.ledger)], check=False).returncode == 0
    assert ledger_totals(workspace) == source_totals(records)


def _bean_check() -> str:
    import shutil
    import sys
    from pathlib import Path

    found = Path(sys.executable).with_name("bean-check")
    return str(found) if found.exists() else shutil.which("bean-check") or "bean-check"


def _fix_unmapped_tax(workspace: Workspace) -> None:
    mapping = workspace.root / "mapping.yaml"
    mapping.write_text(
        mapping.read_text().replace(
            "tax_rates:\n", "tax_rates:\n  txr_unmapped_xx: Liabilities:Tax:Unmapped-Fixed\n"
        )
    )


def test_replay_after_mapping_fix_posts_only_that_record(workspace: Workspace) -> None:
    """On a sandbox ledger a mapping edit runs at once (the README tour)."""
    config = workspace.root / "billbridge.yaml"
    config.write_text(
        config.read_text().replace(
            "path: books/main.beancount", "mode: sandbox\n    path: books/main.beancount"
        )
    )
    workspace.cli("sync")
    before = posted_keys(workspace.ledger)
    _fix_unmapped_tax(workspace)

    code, result = workspace.cli("replay", "stripe:invoice:in_fault_unmapped_tax")
    assert code == 0
    assert result["runs"][0]["counts"]["synced"] == 1
    assert "runs mapping draft" in result["mapping"][0]

    after = posted_keys(workspace.ledger)
    assert after - before == Counter({f"{FLOW}|stripe:invoice:in_fault_unmapped_tax|issue": 1})
    assert before - after == Counter()
    _, queue = workspace.cli("queue")
    assert {i["record"] for i in queue} == set(FAULTS) - {"stripe:invoice:in_fault_unmapped_tax"}
    code, audit = workspace.cli("audit", "--record", "stripe:invoice:in_fault_unmapped_tax")
    # The sample customers' VAT ids fail their check digits: a `warning` row rides along.
    actions = [row["action"] for row in audit if row["action"] != "warning"]
    assert actions[-3:] == ["failed", "replayed", "posted"]
    assert audit[-1]["actor"] == "tester"


def test_on_production_a_mapping_edit_waits_for_promotion(workspace: Workspace) -> None:
    """The same edit on a production ledger: the replay runs the promoted version and says
    the draft waits; promoted (four-eyes off, so one person may), the replay posts."""
    workspace.cli("sync")
    before = posted_keys(workspace.ledger)
    _fix_unmapped_tax(workspace)
    code, result = workspace.cli("replay", "stripe:invoice:in_fault_unmapped_tax")
    assert code == 1
    assert result["runs"][0]["counts"]["failed"] == 1
    assert "holds mapping draft" in result["mapping"][0]
    assert posted_keys(workspace.ledger) == before

    code, out = workspace.cli("mapping", "test", FLOW)
    assert code == 0 and out["newly_posting"] == 1
    code, out = workspace.cli("mapping", "promote", FLOW, out["draft"])
    assert code == 2 and "signed-in approver" in out["error"]
    config = workspace.root / "billbridge.yaml"
    config.write_text(config.read_text() + "change_control:\n  four_eyes: false\n")
    code, out = workspace.cli("mapping", "promote", FLOW, "ffff")
    assert code == 2 and "'ffff' is not a mapping version" in out["error"]
    _, hist = workspace.cli("mapping", "history", FLOW)
    draft = next(v["version"] for v in hist["versions"] if v["status"] == "draft")
    code, out = workspace.cli("mapping", "promote", FLOW, draft)
    assert code == 0, out
    code, result = workspace.cli("replay", "stripe:invoice:in_fault_unmapped_tax")
    assert code == 0 and "mapping" not in result
    after = posted_keys(workspace.ledger)
    assert after - before == Counter({f"{FLOW}|stripe:invoice:in_fault_unmapped_tax|issue": 1})


def test_second_sync_is_all_unchanged_and_posts_nothing(workspace: Workspace) -> None:
    workspace.cli("sync")
    size = workspace.entries_file.stat().st_size
    code, run = workspace.cli("sync")
    # Nothing new failed, but the deliberate faults still wait for a person: exit 1, and
    # the run says how many rows are open and which commands clear them.
    assert code == 1
    assert run["counts"]["failed"] == 0
    assert run["queue"]["needs_person"] == run["queue"]["failed"] > 0
    assert "billbridge retry --all" in run["queue"]["commands"]
    assert run["counts"]["unchanged"] == len(workspace.records())
    assert run["posted"] == 0
    assert workspace.entries_file.stat().st_size == size


def test_dry_run_shows_entries_and_writes_nothing(workspace: Workspace) -> None:
    code, run = workspace.cli("sync", "--dry-run")
    assert code == 1
    assert run["posted"] > 0 and len(run["entries"]) > 0
    assert 'billbridge-idem: "stripe-to-books|stripe:invoice:' in "".join(run["entries"])
    assert workspace.entries_file.stat().st_size == 0
    _, queue = workspace.cli("queue")
    assert queue == []
    code, run = workspace.cli("sync")
    assert run["counts"]["unchanged"] == 0  # the dry run stored nothing either


def test_trace_follows_an_invoice_to_its_postings(workspace: Workspace) -> None:
    workspace.cli("sync")
    charge = next(
        r for r in workspace.records() if r["object"] == "charge" and r["id"] == "ch_fault_early"
    )
    invoice = next(
        r for r in workspace.records() if r["object"] == "invoice" and r["id"] == "in_fault_early"
    )
    code, trace = workspace.cli("trace", invoice["number"])
    assert code == 0
    assert trace["record"] == "stripe:invoice:in_fault_early"
    facets = {(p["record"], p["facet"]) for p in trace["postings"]}
    assert ("stripe:invoice:in_fault_early", "issue") in facets
    assert (f"stripe:charge:{charge['id']}", "payment") in facets
    events = [(e["record"], e["event"]) for e in trace["events"]]
    assert (f"stripe:charge:{charge['id']}", "held") in events  # it arrived first and waited
    assert trace["handoffs"] >= 2


def test_bad_configuration_exits_2_naming_file_line_and_field(workspace: Workspace) -> None:
    config = workspace.root / "billbridge.yaml"
    text = config.read_text().replace("to: books", "to: bookz")
    config.write_text(text)
    line = text.splitlines().index("    to: bookz") + 1
    code, out = workspace.cli("sync")
    assert code == 2
    assert f"billbridge.yaml:{line}: flows[0].to: 'bookz' is not a connection" in out["error"]


def test_audit_verify_json(workspace: Workspace) -> None:
    workspace.cli("sync")
    code, verdict = workspace.cli("audit", "--verify")
    assert code == 0
    assert verdict["ok"] is True and verdict["first_bad"] is None and verdict["rows"] > 0
