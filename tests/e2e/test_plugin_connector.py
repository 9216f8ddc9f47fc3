"""A connector from another package syncs the sample export like billbridge's own.

The plugin is a real distribution on sys.path (`tests/plugins`), found through the
`billbridge.connectors` entry point: billbridge's code does not name it anywhere.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from .conftest import make_workspace
from .ledgers import retarget
from .test_sync_flow import FAULTS, expected_facets

JSONL = "    connector: jsonl-file\n    path: books/entries.jsonl"


@pytest.mark.usefixtures("plugin_site")
def test_a_plugin_target_syncs_the_export_exactly_once(tmp_path: Path) -> None:
    ws = retarget(make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}"), JSONL)
    code, run = ws.cli("sync")
    assert code == 1, run  # the deliberate faults fail, everything else posts
    assert run["counts"]["failed"] == len(FAULTS)
    lines = (ws.root / "books" / "entries.jsonl").read_text().splitlines()
    keys = [json.loads(line)["key"] for line in lines]
    assert run["posted"] == len(keys) > 100
    assert Counter(keys) == Counter(dict.fromkeys(expected_facets(ws.records()), 1))
    for line in lines:
        entry = json.loads(line)
        for currency in {p["currency"] for p in entry["postings"]}:
            legs = [p for p in entry["postings"] if p["currency"] == currency]
            assert sum(float(p["amount"]) for p in legs) == pytest.approx(0)

    code, again = ws.cli("sync")
    assert again["posted"] == 0 and again["counts"]["unchanged"] == len(ws.records()), again
    assert (ws.root / "books" / "entries.jsonl").read_text().splitlines() == lines


@pytest.mark.usefixtures("plugin_site")
def test_a_workspace_naming_a_broken_plugin_is_told_what_to_install(tmp_path: Path) -> None:
    ws = retarget(
        make_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", invoices=5),
        "    connector: broken-ledger\n    path: books/x",
    )
    code, out = ws.cli("sync")
    assert code == 2, out
    text = json.dumps(out)
    assert "billbridge.yaml" in text and "connections.books.connector" in text
    assert "broken-ledger = billbridge_broken:SPEC" in text
    assert "pip install 'billbridge-broken[fancy]'" in text
