"""Issue 5's invoice-number checks inside `billbridge reconcile`, through the CLI.

A gap (INV-0001, INV-0002, INV-0004) is reported and never fixed or queued; a number
repeated by an invoice exported after the first sync is reported as `number_duplicate`,
`--fix` queues it as a conflict naming both records, and the pipeline agrees (a later
sync fails the repeat). Both state stores, each workspace over the sample export (whose
own `BB-` series is gapless, with faulty invoices that still carry their numbers).
"""

from __future__ import annotations

from typing import Any

from billbridge.connectors.beancount import load, posted_keys
from billbridge.samples import write_jsonl

from .alert_receiver import AlertReceiver
from .conftest import Workspace
from .test_reconcile import _open_copy

FLOW = "stripe-to-books"


def _with_series(ws: Workspace, numbers: dict[str, str]) -> list[dict[str, Any]]:
    """The export with one open invoice per (id, number) added after the first paid one."""
    records = ws.records()
    paid = next(r for r in records if r["object"] == "invoice" and r["status"] == "paid")
    at = records.index(paid) + 1
    records[at:at] = [_open_copy(paid, ident, number) for ident, number in numbers.items()]
    write_jsonl(ws.export, records)
    return records


def _findings(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [d for f in report["flows"] for d in f["discrepancies"] if d["kind"] == kind]


def _unqueued(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (d["kind"], d["record_key"])
        for f in report["flows"]
        for d in f["discrepancies"]
        if not d["queued"]
    }


def test_a_number_gap_is_reported_with_its_neighbours_and_never_fixed(
    workspace: Workspace,
) -> None:
    ws = workspace
    _with_series(ws, {"in_gap_1": "INV-0001", "in_gap_2": "INV-0002", "in_gap_4": "INV-0004"})
    assert ws.cli("sync")[0] == 1  # the sample's deliberate faults fail; the rest posts

    code, report = ws.cli("reconcile")
    (gap,) = _findings(report, "number_gap")
    assert code == 0  # reported only: nobody has to own a gap, so it is not "unowned"
    assert report["unowned"] == 0
    assert _unqueued(report) == {("number_gap", "stripe:invoice:in_gap_4")}
    assert gap["fix"] == "none" and gap["owner"] == "stripe" and not gap["queued"]
    assert gap["extra"] == {
        "entity": "default",
        "series": "INV-",
        "after": {"number": "INV-0002", "record_key": "stripe:invoice:in_gap_2"},
        "before": {"number": "INV-0004", "record_key": "stripe:invoice:in_gap_4"},
        "missing": ["INV-0003"],
        "missing_count": 1,
    }
    assert "INV-0003" in gap["source_value"]
    assert gap["source_ref"] == "stripe:invoice:in_gap_2, stripe:invoice:in_gap_4"

    ledger_before = ws.entries_file.read_bytes()
    _, queue_before = ws.cli("queue")
    html = ws.root / "numbers.html"
    code, fixed = ws.cli("reconcile", "--fix", "--html", str(html))
    assert code == 0
    assert fixed["flows"][0]["fixes"] == {"posted": [], "reversed": [], "queued": [], "failed": []}
    assert ws.entries_file.read_bytes() == ledger_before
    assert ws.cli("queue")[1] == queue_before
    page = html.read_text()
    assert "number_gap" in page.split("<svg", 1)[1].split("</svg>", 1)[0]  # in the chart
    assert "INV-0003" in page

    # still there after --fix (nothing was fixed), still not a reason to exit 1
    code, again = ws.cli("reconcile")
    assert (code, [d["idempotency_key"] for d in _findings(again, "number_gap")]) == (
        0,
        [gap["idempotency_key"]],
    )
    _, status = ws.cli("status")
    assert status["flows"][FLOW]["discrepancies"] == {"number_gap": 1}

    # the missing invoice turns up in the export: the gap closes
    records = ws.records()
    four = next(r for r in records if r["id"] == "in_gap_4")
    records.insert(records.index(four), _open_copy(four, "in_gap_3", "INV-0003"))
    write_jsonl(ws.export, records)
    code, closed = ws.cli("reconcile")
    assert _findings(closed, "number_gap") == []
    _, status = ws.cli("status")
    assert status["flows"][FLOW]["discrepancies"] == {"missing_in_target": 1}


def test_a_repeated_number_is_reported_queued_by_fix_and_refused_by_the_next_sync(
    workspace: Workspace,
) -> None:
    ws = workspace
    _with_series(ws, {"in_num_1": "INV-0001", "in_num_2": "INV-0002"})
    assert ws.cli("sync")[0] == 1
    code, clean = ws.cli("reconcile")
    assert (code, _unqueued(clean)) == (0, set())

    # exported after the sync: a new invoice reusing INV-0002, placed *before* the holder,
    # so only the store's claim says which of the two holds the number
    records = ws.records()
    holder = next(r for r in records if r["id"] == "in_num_2")
    records.insert(records.index(holder) - 1, _open_copy(holder, "in_num_dup", "INV-0002"))
    write_jsonl(ws.export, records)

    code, report = ws.cli("reconcile")
    repeat, held_by = "stripe:invoice:in_num_dup", "stripe:invoice:in_num_2"
    assert code == 1  # a duplicate nobody owns yet
    assert _unqueued(report) == {("number_duplicate", repeat)}  # not also missing_in_target
    (dup,) = _findings(report, "number_duplicate")
    assert dup["owner"] == "stripe" and dup["fix"] == "queue"
    assert dup["source_ref"] == f"{held_by}, {repeat}"
    assert dup["extra"]["records"] == [held_by, repeat]
    assert dup["extra"]["number"] == "INV-0002"
    assert f"{held_by} posted" in dup["target_value"]
    assert dup["target_ref"]  # where the holder's issue entry is in the books

    ledger_before = ws.entries_file.read_bytes()
    code, fixed = ws.cli("reconcile", "--fix")
    assert code == 0
    assert fixed["flows"][0]["fixes"] == {
        "posted": [],
        "reversed": [],
        "queued": [repeat],
        "failed": [],
    }
    assert ws.entries_file.read_bytes() == ledger_before  # never renumbered, never posted
    _, queue = ws.cli("queue")
    (row,) = [r for r in queue if r["record"] == repeat]
    assert row["kind"] == "conflict" and row["field"] == "number_duplicate"
    assert held_by in row["error"] and repeat in row["error"] and "INV-0002" in row["error"]
    assert "never renumbers" in row["hint"]

    # a queued conflict is still a fact: reported again, shown as in the queue, exit 0
    code, again = ws.cli("reconcile")
    assert (code, _unqueued(again)) == (0, set())
    assert [(d["record_key"], d["queued"]) for d in _findings(again, "number_duplicate")] == [
        (repeat, True)
    ]
    _, status = ws.cli("status")
    assert status["flows"][FLOW]["discrepancies"] == {"number_duplicate": 1}

    # the pipeline agrees: the next sync fails the repeat, names both, posts nothing for it
    assert ws.cli("sync")[0] == 1
    _, queue = ws.cli("queue")
    (row,) = [r for r in queue if r["record"] == repeat]
    assert row["kind"] == "failed" and row["field"] == "number" and held_by in row["error"]
    assert not load(ws.ledger)[1]
    assert posted_keys(ws.ledger)[f"{FLOW}|{repeat}|issue"] == 0
    code, after_sync = ws.cli("reconcile")
    assert (code, _unqueued(after_sync)) == (0, set())
    assert len(_findings(after_sync, "number_duplicate")) == 1


def test_a_repeated_number_alerts_once_and_resolves_when_it_is_gone(
    workspace: Workspace,
) -> None:
    ws = workspace
    records = _with_series(ws, {"in_al_1": "INV-0001", "in_al_3": "INV-0003"})
    config = ws.root / "billbridge.yaml"
    with AlertReceiver() as hook:
        config.write_text(
            config.read_text() + f"alerts:\n  webhook: http://127.0.0.1:{hook.port}/hooks\n"
            "  rules:\n    number_duplicate: true\n"
        )
        assert ws.cli("sync")[0] == 1
        assert ws.cli("reconcile")[0] == 0  # the gap (INV-0002) is no alert
        assert hook.bodies == []

        holder = next(r for r in records if r["id"] == "in_al_1")
        write_jsonl(ws.export, [*records, _open_copy(holder, "in_al_dup", "INV-0001")])
        assert ws.cli("reconcile")[0] == 1
        assert ws.cli("reconcile")[0] == 1  # still open: no second message
        subject = f"{FLOW}|stripe:invoice:in_al_dup|number"
        assert [(b["state"], b["rule"], b["subject"]) for b in hook.bodies] == [
            ("firing", "number_duplicate", subject)
        ]
        assert "stripe:invoice:in_al_1" in hook.bodies[0]["detail"]

        write_jsonl(ws.export, records)  # the repeat was withdrawn from the source
        assert ws.cli("reconcile")[0] == 0
        assert [(b["state"], b["rule"]) for b in hook.bodies[1:]] == [
            ("resolved", "number_duplicate")
        ]
