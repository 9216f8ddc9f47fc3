"""A record flow end to end: canonical customers from a plugin source into Stripe (localstripe).

The source is the `orders-file` plugin (tests/plugins/billbridge_orders.py): an invoicing
tool's clients, in its own words, normalized to canonical `Customer`s. The flow's `to:`
is a live Stripe connection, written through the record-target protocol: look up by our
record key before create, create or update, read back and verify. What is checked is what
Stripe holds: one customer per record key with the fields asked, after a first sync, a
second one (which sends nothing: its connection points at a closed port), an edit, and a
process killed with SIGKILL right after a create whose commit never happened.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import stripe
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.store import open_store
from billbridge.workspace_files import create_workspace

from .conftest import TEST_KEY

FLOW = "clients-to-stripe"
CONFIG = """\
connections:
  clients:
    connector: orders-file
    path: exports/clients.jsonl
  stripe:
    connector: stripe
    mode: sandbox
    api_key: ${{STRIPE_API_KEY}}
    api_base: {api_base}
flows:
  - name: clients-to-stripe
    from: clients
    to: stripe
    mapping: mapping.yaml
state: .billbridge/state.db
"""


def client(ref: str, name: str, mail: str, town: str = "Berlin") -> dict[str, Any]:
    where = {"street": "Hauptstr. 1", "town": town, "zip": "10115", "land": "DE"}
    return {"kind": "client", "ref": ref, "name": name, "mail": mail, "address": where}


CLIENTS = [
    client("C1", "Globex GmbH", "ap@globex.example"),
    client("C2", "Initech SA", "billing@initech.example", town="Paris"),
    {"kind": "client", "ref": "C3", "mail": "nobody@example.com"},  # no name: fails alone
    client("C4", "Umbrella KK", "ar@umbrella.example", town="Osaka"),
]


def workspace(root: Path, api_base: str, lines: list[dict[str, Any]]) -> Path:
    create_workspace(root, timezone="Europe/Berlin")
    point_at(root, api_base)
    write_clients(root, lines)
    return root


def point_at(root: Path, api_base: str) -> None:
    (root / "billbridge.yaml").write_text(CONFIG.format(api_base=api_base))


def write_clients(root: Path, lines: list[dict[str, Any]]) -> None:
    path = root / "exports" / "clients.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def cli(root: Path, *args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(
        app,
        ["-w", str(root), *args, "--json"],
        env={"STRIPE_API_KEY": TEST_KEY, "BILLBRIDGE_ACTOR": "tester"},
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, orjson.loads(result.stdout) if result.stdout.strip() else None


def by_key(client_: stripe.StripeClient) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for customer in client_.v1.customers.list(params={"limit": 100}).data:
        data = customer.to_dict()
        key = (data.get("metadata") or {}).get("billbridge_key")
        if key:
            found.setdefault(key, []).append(data)
    return found


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.usefixtures("plugin_site")
def test_customers_flow_into_stripe_once_and_updates_in_place(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    root = workspace(tmp_path / "ws", localstripe, CLIENTS)
    code, run = cli(root, "sync")
    assert code == 1, run  # C3 fails alone; the others are written
    assert run["counts"] == {"synced": 3, "unchanged": 0, "failed": 1, "held": 0, "conflict": 0}
    assert run["posted"] == 3
    held = by_key(stripe_client)
    assert sorted(held) == ["clients:customer:C1", "clients:customer:C2", "clients:customer:C4"]
    assert all(len(found) == 1 for found in held.values())
    globex = held["clients:customer:C1"][0]
    assert (globex["name"], globex["email"]) == ("Globex GmbH", "ap@globex.example")
    assert globex["address"]["city"] == "Berlin" and globex["address"]["country"] == "DE"
    _, queue = cli(root, "queue")
    assert [(row["record"], row["field"]) for row in queue] == [("clients:customer:C3", "name")]

    # Nothing changed: the second sync sends nothing (any request would fail: closed port).
    point_at(root, closed_port())
    code, again = cli(root, "sync")
    assert again["posted"] == 0 and again["counts"]["unchanged"] == 4, again
    assert not again.get("stopped")

    # An edit updates the same customer; fixing C3 creates it; trace shows the writes.
    point_at(root, localstripe)
    edited = [client("C1", "Globex GmbH", "finance@globex.example"), *CLIENTS[1:2],
              client("C3", "Hooli Inc", "ap@hooli.example"), CLIENTS[3]]  # fmt: skip
    write_clients(root, edited)
    code, third = cli(root, "sync")
    assert code == 0, third
    assert third["counts"]["synced"] == 2 and third["posted"] == 2
    now = by_key(stripe_client)
    assert {k: len(v) for k, v in now.items()} == dict.fromkeys(
        ["clients:customer:C1", "clients:customer:C2", "clients:customer:C3",
         "clients:customer:C4"], 1,
    )  # fmt: skip
    assert now["clients:customer:C1"][0]["id"] == globex["id"]
    assert now["clients:customer:C1"][0]["email"] == "finance@globex.example"
    _, queue = cli(root, "queue")
    assert queue == []
    _, traced = cli(root, "trace", "clients:customer:C1")
    assert [(p["facet"], p["target"], p["summary"]) for p in traced["postings"]] == [
        ("record", "stripe", f"created customer {globex['id']} in stripe"),
        ("record", "stripe", f"updated customer {globex['id']} in stripe"),
    ]

    store = open_store(root / ".billbridge" / "state.db")
    try:
        rows = store.postings_for("clients:customer:C1", flow=FLOW)
        audit = [a for a in store.audit_rows(record_key="clients:customer:C1")
                 if a.action == "written"]  # fmt: skip
    finally:
        store.close()
    assert [(r.facet, r.target_ref) for r in rows] == [("record", globex["id"])] * 2
    assert [a.diff["how"][1] for a in audit] == ["created", "updated"]
    assert "finance@globex.example" not in json.dumps([a.diff for a in audit])  # names, not values


@pytest.mark.usefixtures("plugin_site")
def test_a_write_whose_commit_was_killed_is_found_not_repeated(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str, plugin_site: Path
) -> None:
    root = workspace(tmp_path / "ws", localstripe, [CLIENTS[0], CLIENTS[1], CLIENTS[3]])
    env = {**os.environ, "STRIPE_API_KEY": TEST_KEY, "BILLBRIDGE_ACTOR": "tester",
           "PYTHONPATH": os.pathsep.join([str(plugin_site), *sys.path])}  # fmt: skip
    killed = subprocess.run(
        [sys.executable, "-m", "billbridge", "-w", str(root), "sync", "--json"],
        env={**env, "BILLBRIDGE_CRASH_AT": "after-write:2"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert sorted(by_key(stripe_client)) == ["clients:customer:C1", "clients:customer:C2"]

    resumed = subprocess.run(
        [sys.executable, "-m", "billbridge", "-w", str(root), "sync", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    run = json.loads(resumed.stdout)
    assert run["counts"]["synced"] == 3
    assert run["posted"] == 1  # C1 and C2 were found in Stripe, only C4 was created
    held = by_key(stripe_client)
    assert {k: len(v) for k, v in held.items()} == dict.fromkeys(
        ["clients:customer:C1", "clients:customer:C2", "clients:customer:C4"], 1
    )
    store = open_store(root / ".billbridge" / "state.db")
    try:
        hows = {
            key: [
                a.diff["how"][1] for a in store.audit_rows(record_key=key) if a.action == "written"
            ]
            for key in held
        }
    finally:
        store.close()
    assert hows == {
        "clients:customer:C1": ["found"],
        "clients:customer:C2": ["found"],
        "clients:customer:C4": ["created"],
    }
