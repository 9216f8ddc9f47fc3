"""Issue 17's change control, whole CLI runs on both stores: a tax-account change from draft
to production, and back.

A production workspace with users: the change is a draft on disk, `mapping test` lists
exactly the records it moves (found here independently, from the ledger's own entries)
and writes nothing to the ledger; its author cannot promote it, a second approver can;
sync, replay, the worker's inbox drain and `reconcile --fix` then all post with the new
version (each audited with its id); `rollback` restores the old rules for later records.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from beancount.core import data as bc
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.config import load_workspace
from billbridge.connectors.beancount import load
from billbridge.identity import new_token
from billbridge.samples import write_jsonl
from billbridge.store import Store
from billbridge.wiring import open_workspace_store
from billbridge.worker import DRAIN, run_job

from .conftest import Workspace, make_workspace, mapping_accounts

FLOW = "stripe-to-books"
RATE = "txr_de_vat19"
OLD = mapping_accounts()[1][RATE]
NEW = "Liabilities:Tax:DE-Vat19-Reclassified"
ROLES = {"alice": "approver", "bob": "approver", "mia": "mapper", "otto": "operator",
         "vera": "viewer"}  # fmt: skip


class Cli:
    def __init__(self, ws: Workspace, tmp: Path) -> None:
        self.ws = ws
        self.xdg = tmp / "xdg"  # no `billbridge login` file of the machine's user counts
        self.tokens: dict[str, str] = {}

    def __call__(self, *args: str, user: str | None = None) -> tuple[int, Any]:
        env = {**self.ws.env(), "XDG_STATE_HOME": str(self.xdg)}
        if user is not None:
            env["BILLBRIDGE_TOKEN"] = self.tokens[user]
        result = CliRunner().invoke(app, ["-w", str(self.ws.root), *args, "--json"], env=env)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        text = result.stdout.strip()
        return result.exit_code, orjson.loads(text) if text else None

    def store(self) -> Store:
        return open_workspace_store(load_workspace(self.ws.root, env=self.ws.env()))


@pytest.fixture
def cli(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("BILLBRIDGE_STATE", state_url)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    ws = make_workspace(tmp_path / "ws", state_url, invoices=60)
    runner = Cli(ws, tmp_path)
    code, _ = runner("sync")
    assert code == 1  # the sample faults fail; everything else posts
    store = runner.store()
    try:
        for name, role in ROLES.items():
            store.add_user(name=name, role=role, password_hash="$argon2id$unused")  # type: ignore[arg-type]
            runner.tokens[name] = new_token(store, user=name, label="e2e")
    finally:
        store.close()
    return runner


def _books_digest(ws: Workspace) -> str:
    found = hashlib.sha256()
    for path in sorted((ws.root / "books").iterdir()):
        found.update(path.name.encode() + path.read_bytes())
    return found.hexdigest()


def _records_on(ws: Workspace, account: str) -> set[str]:
    """Record keys whose posted entries touch `account`, read from the ledger itself."""
    return {
        entry.meta["billbridge-key"]
        for entry in load(ws.ledger)[0]
        if isinstance(entry, bc.Transaction)
        and "billbridge-key" in entry.meta
        and any(p.account == account for p in entry.postings)
    }


def _entry_accounts(ws: Workspace, record: str) -> set[str]:
    return {
        p.account
        for entry in load(ws.ledger)[0]
        if isinstance(entry, bc.Transaction) and entry.meta.get("billbridge-key") == record
        for p in entry.postings
    }


def _new_invoice(ws: Workspace, suffix: str) -> dict[str, Any]:
    """A fresh paid invoice taxed at RATE, copied from one in the export."""
    template = next(
        r for r in ws.records()
        if r["object"] == "invoice" and r["status"] == "paid"
        and r["total_taxes"] and r["total_taxes"][0]["tax_rate_details"]["tax_rate"] == RATE
    )  # fmt: skip
    invoice = copy.deepcopy(template)
    invoice["id"] = f"in_cc_{suffix}"
    invoice["number"] = f"CC-{suffix}"
    invoice["created"] = int(template["created"]) + 3600
    for line in invoice["lines"]["data"]:
        line["invoice"] = invoice["id"]
    return invoice


def _append(ws: Workspace, obj: dict[str, Any]) -> None:
    write_jsonl(ws.export, [*ws.records(), obj])


def _draft(ws: Workspace) -> None:
    mapping = ws.root / "mapping.yaml"
    text = mapping.read_text()
    assert f"{RATE}: {OLD}\n" in text
    mapping.write_text(text.replace(f"{RATE}: {OLD}\n", f"{RATE}: {NEW}\n"))


def _audit_versions(store: Store, record: str, action: str) -> list[str]:
    return [r.mapping_version for r in store.audit_rows(record_key=record) if r.action == action]


def test_a_tax_account_change_from_draft_to_production_and_back(cli: Cli) -> None:
    ws = cli.ws
    affected = _records_on(ws, OLD)
    assert len(affected) >= 5  # the sample has several invoices and credit notes at 19 %
    store = cli.store()
    try:
        old_version = store.promoted_mapping(FLOW)
        postings_before = sum(1 for _ in store.iter_postings())
    finally:
        store.close()
    assert old_version is not None  # bootstrapped by the first sync

    # A production store with users: who acts must be signed in.
    code, out = cli("sync")
    assert code == 2 and "sign in" in out["error"]

    _draft(ws)
    code, run = cli("sync", user="otto")
    assert run["mapping"]["draft_waiting"] and run["mapping"]["version"] == old_version
    draft = run["mapping"]["draft_waiting"]
    assert "runs the promoted version" in run["mapping"]["note"]

    # `mapping test`: exactly the affected records, entry by entry; nothing written.
    digest = _books_digest(ws)
    code, test = cli("mapping", "test", FLOW, "--comment", "reclassify DE VAT", user="alice")
    assert code == 0, test
    assert (test["draft"], test["base"]) == (draft, old_version)
    assert {c["record"] for c in test["changes"]} == affected
    assert test["newly_failing"] == test["newly_posting"] == 0
    for change in test["changes"]:
        assert change["kind"] == "changed"
        moved = {(ln["account"], ln["before"], ln["after"]) for ln in change["lines"]}
        olds = {(a, b) for a, b, c in moved if a == OLD and c is None}
        news = {(a, c) for a, b, c in moved if a == NEW and b is None}
        assert olds and {b for _, b in olds} == {c for _, c in news}, change
        assert {a for a, _, _ in moved} == {OLD, NEW}
    totals = {t["account"]: t for t in test["totals"] if t["changed"]}
    assert set(totals) == {OLD, NEW}
    assert totals[OLD]["before"] == totals[NEW]["after"] and totals[NEW]["before"] == "0"
    assert _books_digest(ws) == digest
    store = cli.store()
    try:
        assert sum(1 for _ in store.iter_postings()) == postings_before
        assert store.mapping_tests(FLOW, draft=draft)[0].actor == "alice"
        assert store.get_mapping_version(FLOW, draft).author == "alice"  # type: ignore[union-attr]
    finally:
        store.close()

    # Four-eyes: the author and a mapper are refused; a second approver promotes.
    code, out = cli("mapping", "promote", FLOW, draft, user="alice")
    assert code == 2 and "alice wrote draft" in out["error"]
    code, out = cli("mapping", "promote", FLOW, draft, user="mia")
    assert code == 2 and "mia is a mapper" in out["error"]
    code, out = cli("mapping", "diff", FLOW, user="vera")
    assert [c["key"] for c in out["changes"]] == [RATE]
    code, done = cli("mapping", "promote", FLOW, draft, user="bob")
    assert code == 0, done
    assert (done["promoted"], done["previous"], done["author"], done["approver"]) == (
        draft, old_version, "alice", "bob")  # fmt: skip
    assert done["summary"]["changed"] == len(affected)

    # Every path now posts with the new version.
    _append(ws, _new_invoice(ws, "sync"))
    code, run = cli("sync", user="otto")
    assert "mapping" not in run  # the file is the promoted version now
    assert NEW in _entry_accounts(ws, "stripe:invoice:in_cc_sync")

    code, replayed = cli("replay", "stripe:invoice:in_fault_unmapped_tax", user="otto")
    replay_run = replayed["runs"][0]["run"]

    store = cli.store()
    try:
        event = {"id": "evt_cc_drain", "type": "invoice.paid", "created": 1_900_000_000,
                 "data": {"object": _new_invoice(ws, "drain")}}  # fmt: skip
        store.inbox_add(event_id=event["id"], connection="stripe", type=event["type"],
                        object_key="stripe:invoice:in_cc_drain", created=event["created"],
                        payload=orjson.dumps(event), flows=(FLOW,))  # fmt: skip
    finally:
        store.close()
    drained = run_job(load_workspace(ws.root, env=ws.env()), DRAIN, FLOW)
    assert drained.counts.get("synced") == 1

    _append(ws, _new_invoice(ws, "fix"))
    code, fixed = cli("reconcile", "--fix", user="otto")
    posted = [d for f in fixed["flows"] for d in f["discrepancies"] if d["fix"] == "post"]
    assert [d["record_key"] for d in posted] == ["stripe:invoice:in_cc_fix"]
    assert NEW in _entry_accounts(ws, "stripe:invoice:in_cc_fix")

    store = cli.store()
    try:
        for record in ("stripe:invoice:in_cc_sync", "stripe:invoice:in_cc_drain",
                       "stripe:invoice:in_cc_fix"):  # fmt: skip
            assert _audit_versions(store, record, "posted") == [draft], record
            assert [p.mapping_version for p in store.postings_for(record)] == [draft]
        assert _audit_versions(store, "stripe:invoice:in_fault_unmapped_tax", "replayed") == [
            draft]  # fmt: skip
        run_row = store.get_run(replay_run)
        assert run_row is not None and run_row.mapping_version == draft
        assert NEW in _entry_accounts(ws, "stripe:invoice:in_cc_drain")
    finally:
        store.close()

    # Rollback: later records post with the old rules again; audited.
    code, back = cli("mapping", "rollback", FLOW, user="mia")
    assert code == 2 and "mia is a mapper" in back["error"]
    code, back = cli("mapping", "rollback", FLOW, user="alice")
    assert code == 0, back
    assert (back["promoted"], back["previous"]) == (old_version, draft)
    _append(ws, _new_invoice(ws, "after"))
    code, run = cli("sync", user="otto")
    assert run["mapping"]["draft_waiting"] == draft  # the file still holds the new rules
    accounts = _entry_accounts(ws, "stripe:invoice:in_cc_after")
    assert OLD in accounts and NEW not in accounts
    assert NEW in _entry_accounts(ws, "stripe:invoice:in_cc_sync")  # posted entries stay
    store = cli.store()
    try:
        rows = [r for r in store.audit_rows() if r.action.startswith("mapping-")]
        assert [(r.action, r.actor, r.mapping_version) for r in rows] == [
            ("mapping-bootstrapped", "tester", old_version),
            ("mapping-draft", "alice", draft),
            ("mapping-tested", "alice", draft),
            ("mapping-promoted", "bob", draft),
            ("mapping-rolled-back", "alice", old_version),
        ]
        assert _audit_versions(store, "stripe:invoice:in_cc_after", "posted") == [old_version]
        after = store.postings_for("stripe:invoice:in_cc_after")
        assert [p.mapping_version for p in after] == [old_version]
        assert store.verify_audit().ok
    finally:
        store.close()
    code, hist = cli("mapping", "history", FLOW, user="vera")
    assert [(v["version"], v["status"]) for v in hist["versions"]] == [
        (old_version, "promoted"), (draft, "was promoted")]  # fmt: skip
