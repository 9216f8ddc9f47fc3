"""Issue 17's approvals for risky records, whole CLI runs on both stores.

An approval rule in billbridge.yaml holds credit notes over 1,000 EUR as "awaiting
approval"; nothing releases them but a person: `approve` posts one, `reject` queues the
other with the reason. A viewer, an operator and a mapper cannot approve, nor can the
approver who made the record's last change.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.config import load_workspace
from billbridge.connectors.beancount import posted_keys
from billbridge.identity import new_token
from billbridge.samples import write_jsonl
from billbridge.wiring import open_workspace_store

from .conftest import Workspace, make_workspace

FLOW = "stripe-to-books"
RULES = """\
approvals:
  - name: large-credit-notes
    object: credit_note
    over: 1000 EUR
"""
ROLES = {"alice": "approver", "bob": "approver", "mia": "mapper", "otto": "operator",
         "vera": "viewer"}  # fmt: skip
BIG = ("stripe:credit_note:cn_big_1", "stripe:credit_note:cn_big_2")


def _big_credit_note(template: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The sample credit note, 1,000.00 EUR net + 19 % tax (1,190.00 EUR)."""
    note = copy.deepcopy(template)
    note["id"], note["number"] = f"cn_big_{suffix}", f"CN-BIG-{suffix}"
    note["created"] = int(template["created"]) + 60
    net, tax = 100_000, 19_000
    note["subtotal"], note["total"] = net, net + tax
    for holder in (note, note["lines"]["data"][0]):
        for t in holder.get("total_taxes") or holder.get("taxes") or []:
            t["amount"], t["taxable_amount"] = tax, net
    line = note["lines"]["data"][0]
    line["amount"], line["id"] = net, f"cnli_big_{suffix}"
    note["lines"]["data"] = [line]
    return note


class Cli:
    def __init__(self, ws: Workspace, tmp: Path) -> None:
        self.ws, self.xdg, self.tokens = ws, tmp / "xdg", dict[str, str]()

    def __call__(self, *args: str, user: str | None = None) -> tuple[int, Any]:
        env = {**self.ws.env(), "XDG_STATE_HOME": str(self.xdg)}
        if user is not None:
            env["BILLBRIDGE_TOKEN"] = self.tokens[user]
        result = CliRunner().invoke(app, ["-w", str(self.ws.root), *args, "--json"], env=env)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        text = result.stdout.strip()
        return result.exit_code, orjson.loads(text) if text else None


@pytest.fixture
def cli(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("BILLBRIDGE_STATE", state_url)
    ws = make_workspace(tmp_path / "ws", state_url, invoices=60)
    records = ws.records()
    template = next(r for r in records if r["object"] == "credit_note" and r["currency"] == "eur")
    write_jsonl(ws.export, [*records, _big_credit_note(template, "1"),
                            _big_credit_note(template, "2")])  # fmt: skip
    config = ws.root / "billbridge.yaml"
    config.write_text(config.read_text() + RULES)
    return Cli(ws, tmp_path)


def _add_users(cli: Cli) -> None:
    store = open_workspace_store(load_workspace(cli.ws.root, env=cli.ws.env()))
    try:
        for name, role in ROLES.items():
            store.add_user(name=name, role=role, password_hash="$argon2id$unused")  # type: ignore[arg-type]
            cli.tokens[name] = new_token(store, user=name, label="e2e")
    finally:
        store.close()


def _queue(cli: Cli) -> dict[str, dict[str, Any]]:
    code, rows = cli("queue")
    assert code == 0
    return {row["record"]: row for row in rows}


def test_large_credit_notes_wait_for_a_second_person(cli: Cli) -> None:
    code, run = cli("sync")
    assert run["counts"]["held"] >= 2
    queue = _queue(cli)
    for key in BIG:
        assert queue[key]["kind"] == "held" and queue[key]["field"] == "approval"
        assert queue[key]["error"].startswith("awaiting approval: large-credit-notes (1190.00 EUR")
        assert queue[key]["waiting_on"] is None
    small = next(r for r in cli.ws.records() if r["object"] == "credit_note")
    assert f"stripe:credit_note:{small['id']}" not in queue  # 5.36 EUR: under the rule
    ledger = posted_keys(cli.ws.ledger)
    assert not [k for k in ledger if "cn_big" in k]

    _add_users(cli)
    code, run = cli("sync", user="otto")  # nothing releases a hold by itself
    code, run = cli("replay", BIG[0], user="alice")  # alice now made its last change
    assert _queue(cli)[BIG[0]]["kind"] == "held"

    for user, role in (("vera", "viewer"), ("otto", "operator"), ("mia", "mapper")):
        code, out = cli("approve", BIG[0], user=user)
        assert code == 2 and f"{user} is a{'n' if role[0] in 'aeiou' else ''} {role}" \
            in out["error"], out  # fmt: skip
    code, out = cli("approve", BIG[0], user="alice")
    assert code == 2 and "alice made the last change" in out["error"]
    assert not [k for k in posted_keys(cli.ws.ledger) if "cn_big" in k]

    code, out = cli("approve", BIG[0], user="bob")
    assert code == 0, out
    assert (out["decision"], out["actor"], out["queue"]) == ("approved", "bob", None)
    assert posted_keys(cli.ws.ledger)[f"{FLOW}|{BIG[0]}|credit"] == 1

    code, out = cli("reject", BIG[1], user="bob")  # no --reason: a usage error
    assert code == 2
    code, out = cli("reject", BIG[1], "--reason", "duplicate of CN-BIG-1", user="bob")
    assert code == 0, out
    row = _queue(cli)[BIG[1]]
    assert row["kind"] == "failed" and row["field"] == "approval"
    assert "rejected by bob (approval rule large-credit-notes): duplicate of CN-BIG-1" \
        in row["error"]  # fmt: skip
    code, run = cli("sync", user="otto")
    assert _queue(cli)[BIG[1]]["kind"] == "failed"
    assert f"{FLOW}|{BIG[1]}|credit" not in posted_keys(cli.ws.ledger)
    code, out = cli("approve", BIG[1], user="alice")
    assert code == 2 and "not awaiting approval" in out["error"]

    code, audit = cli("audit", "--record", BIG[0])
    actions = [(r["action"], r["actor"]) for r in audit]
    assert ("approved", "bob") in actions and actions[-1] == ("posted", "bob")
    code, audit = cli("audit", "--record", BIG[1])
    assert ("rejected", "bob") in [(r["action"], r["actor"]) for r in audit]
