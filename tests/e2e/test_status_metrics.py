"""`billbridge status` and the Prometheus page agree with the store, counted independently.

The workspace syncs the sample export (with its deliberate faults), then a duplicate is
pasted into the books and reconciled, so every figure (posted records, queue rows by
kind, discrepancies) is non-zero. Expectations come from the store's plain row reads,
not from the aggregate queries under test; the metrics go through prometheus_client's
own parser.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from billbridge.engine.metrics import render_metrics
from billbridge.store import open_store

from .conftest import Workspace

FLOW = "stripe-to-books"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_status_and_metrics_equal_the_stores_counts(workspace: Workspace) -> None:
    ws = workspace
    before = datetime.now(UTC)
    assert ws.cli("sync")[0] == 1
    entries = ws.entries_file.read_text()
    first_block = entries[: entries.index("\n\n") + 2]
    with ws.ledger.open("a") as main:
        main.write("\n" + first_block)
    assert ws.cli("reconcile")[0] == 1

    store = open_store(ws.state_url)
    try:
        postings = list(store.iter_postings(flow=FLOW))
        queue = store.open_exceptions(flow=FLOW)
        by_kind = Counter(row.kind for row in queue)
        oldest = min(row.first_seen for row in queue if row.first_seen)
        retries = sum(row.attempts - 1 for row in queue)
        code, status = ws.cli("status")
        text = render_metrics(store, flows=[FLOW]).decode()
    finally:
        store.close()

    assert code == 0
    flow = status["flows"][FLOW]
    assert flow["records"]["synced"] == len({p.record_key for p in postings}) > 100
    assert flow["postings"] == len(postings)
    assert flow["records"]["failed"] == by_kind["failed"] == 3
    assert flow["queue"]["open"] == len(queue) == status["queue"]["open"]
    assert flow["retries"] == retries
    assert flow["discrepancies"] == {"duplicate_posting": 1}
    assert datetime.fromisoformat(flow["last_success"]) >= before
    assert flow["queue"]["oldest_age_seconds"] >= 0

    samples = _samples(text)
    label = (("flow", FLOW),)
    assert samples["billbridge_postings", label] == len(postings)
    assert samples["billbridge_queue_open", label] == len(queue)
    assert samples["billbridge_queue_retries", label] == retries
    for kind in ("synced", "failed", "held", "conflict"):
        assert (
            samples["billbridge_records", (("flow", FLOW), ("outcome", kind))]
            == flow["records"][kind]
        )
    assert samples["billbridge_discrepancies_open", (("flow", FLOW), ("kind", "duplicate_posting"))]
    last = samples["billbridge_last_success_timestamp_seconds", label]
    assert last == datetime.fromisoformat(flow["last_success"]).timestamp()
    age = samples["billbridge_queue_oldest_age_seconds", label]
    assert 0 <= age <= (datetime.now(UTC) - oldest).total_seconds()

    # after --fix reverses the duplicate, the discrepancy is resolved in status too
    assert ws.cli("reconcile", "--fix")[0] == 0
    assert ws.cli("status")[1]["flows"][FLOW]["discrepancies"] == {}
