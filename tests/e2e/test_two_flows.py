"""Two flows from one Stripe connection: each posts everything once, by its own history.

Why it matters: the source's snapshot is stored once per connection, so a second flow
(the same Stripe data into a second ledger, or a QuickBooks export beside the books)
must not take the first flow's work for its own and skip every record as unchanged.
"""

from __future__ import annotations

from pathlib import Path

from billbridge.connectors.beancount import posted_keys

from .conftest import Workspace, make_workspace
from .test_sync_flow import FLOW, expected_facets

SECOND = "stripe-to-audit-books"


def _add_second_flow(ws: Workspace) -> Path:
    config = ws.root / "billbridge.yaml"
    text = config.read_text()
    text = text.replace(
        "flows:\n",
        "  audit-books:\n"
        "    connector: beancount\n"
        "    path: audit/main.beancount\n"
        "flows:\n",
    )
    text = text.replace(
        "state:",
        f"  - name: {SECOND}\n    from: stripe\n    to: audit-books\n    mapping: mapping.yaml\n"
        "state:",
    )
    config.write_text(text)
    return ws.root / "audit" / "main.beancount"


def test_a_second_flow_from_the_same_connection_posts_everything_once(
    tmp_path: Path, state_url: str
) -> None:
    ws = make_workspace(tmp_path / "ws", state_url)
    records = ws.records()
    code, first = ws.cli("sync", FLOW)
    assert code == 1  # the sample's deliberate faults
    second_ledger = _add_second_flow(ws)

    code, second = ws.cli("sync", SECOND)
    assert code == 1
    assert second["counts"]["unchanged"] == 0
    assert second["posted"] == first["posted"] > 0
    expected = {k.replace(f"{FLOW}|", f"{SECOND}|", 1) for k in expected_facets(records)}
    counts = posted_keys(second_ledger)
    assert set(counts) == expected
    assert set(counts.values()) == {1}

    code, again = ws.cli("sync")
    assert again["counts"]["unchanged"] == 2 * len(records)
    assert sum(run["posted"] for run in again["runs"]) == 0
