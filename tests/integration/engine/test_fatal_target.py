"""A target that stops the run (`FatalError`) never leaves a record seen and not posted.

Before: the record being written was committed as seen (its version) with no posting
and no queue row, so every later sync called it `unchanged` and its payments stayed held.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from billbridge.testing import Fault

from ...e2e.conftest import make_workspace
from ...e2e.test_sync_flow import FAULTS, expected_facets
from .faults import clean_sync, faulted_sync, ledger_now, queued


def test_a_fatal_error_on_the_fifth_write_is_queued_and_posted_by_the_next_sync(
    tmp_path: Path, state_url: str
) -> None:
    ws = make_workspace(tmp_path / "ws", state_url, invoices=20, batch_size=50)
    run = faulted_sync(ws.root, state_url, Fault(kind="fatal", write=5))
    assert run.result is not None and "cannot be written any more" in run.result.stopped
    [(kind, keys)] = run.injected
    victim = keys[0].split("|")[1]
    assert kind == "fatal"
    rows = queued(ws.root, state_url)
    assert "the target stopped the run" in rows[victim], rows
    assert not any(key.startswith(f"stripe-to-books|{victim}|") for key in ledger_now(ws.root).keys)

    again = clean_sync(ws.root, state_url)
    assert not again.stopped
    ledger = ledger_now(ws.root)
    assert set(ledger.keys) == expected_facets(ws.records())
    assert ledger.duplicated == set()
    assert set(queued(ws.root, state_url)) == set(FAULTS)
    # and the record is not merely posted: the store knows it, so nothing posts it again
    third = clean_sync(ws.root, state_url)
    assert third.posted == 0
    assert third.counts["unchanged"] == len(ws.records())


@pytest.mark.parametrize("at", [1, 5, 37])
def test_a_fatal_error_leaves_no_record_seen_without_posting_or_queue_row(
    tmp_path: Path, at: int
) -> None:
    """Whatever write stops the run, after the next clean sync every good record posted."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ws = make_workspace(tmp_path / "ws", url, invoices=15, batch_size=20)
    faulted_sync(ws.root, url, Fault(kind="fatal", write=at))
    clean_sync(ws.root, url)
    ledger = ledger_now(ws.root)
    assert set(ledger.keys) == expected_facets(ws.records())
    assert ledger.duplicated == set()


@pytest.mark.parametrize("ledger", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_row_the_sql_ledger_refuses_queues_its_record_and_the_rest_posts(
    tmp_path: Path, ledger: str, request: pytest.FixtureRequest
) -> None:
    from billbridge.connectors.sqlgl import connect

    from ...e2e.ledgers import retarget

    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if ledger == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    state = f"sqlite:///{tmp_path / 'state.db'}"
    ws = retarget(
        make_workspace(tmp_path / "ws", state, invoices=20),
        f"    connector: sqlgl\n    url: {url}",
    )
    victim = next(
        f"stripe:invoice:{r['id']}"
        for r in ws.records()
        if r["object"] == "invoice" and r.get("status") == "paid"
    )
    db = connect(url)  # the accounting team's own rule on the GL table
    if db.dialect == "sqlite":
        db.execute(
            "CREATE TRIGGER hold_back BEFORE INSERT ON journal WHEN NEW.record_key = "
            f"'{victim}' BEGIN SELECT RAISE(ABORT, 'this customer is under review'); END"
        )
    else:
        db.execute(f"ALTER TABLE journal ADD CONSTRAINT hold_back CHECK (record_key <> '{victim}')")
    db.commit()
    db.close()

    result = clean_sync(ws.root, state)
    assert not result.stopped
    rows = queued(ws.root, state)
    assert "refused" in rows[victim]
    ledger_keys = set(ledger_now(ws.root).keys)
    expected = expected_facets(ws.records())
    assert not any(k.startswith(f"stripe-to-books|{victim}|") for k in ledger_keys)
    # everything else posted, except what waits for the refused invoice (its payment)
    waiting = {k for k in expected - ledger_keys if k.split("|")[1] != victim}
    assert {k.split("|")[1] for k in waiting} <= set(rows), waiting
    assert ledger_keys <= expected
    assert len(waiting) <= 2  # a payment of that invoice, perhaps its refund
