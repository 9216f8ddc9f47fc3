"""GDPR erasure after the whole loop: no trace of the person anywhere billbridge keeps data,
the audit chain and the books intact, and the next sync does not bring the data back.

The person: a CRM account (its name and e-mail), its contact, its Stripe customer, their
invoice in the books and in the CRM, a two-way conflict on its e-mail, a plan-upgrade
notice, a stored webhook delivery and a Stripe write-back request. After `billbridge
erase`, the state store's bytes (SQLite: the database file and its WAL after a
checkpoint; PostgreSQL: every table's rows as text) and every file in the workspace are
searched for the e-mails and the name; `audit --verify` and `bean-check` must pass and
every account's balance must be what it was. A second account, not erased, stays whole.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import stripe
from beancount import loader
from psycopg import sql

from billbridge.service.auth import create_token
from billbridge.store import open_store
from tests.crm_server import CrmServer
from tests.e2e.alert_receiver import AlertReceiver

from ._loop import crm_account, loop_workspace, ok, pay_by_card, plans, stripe_customers
from ._workspace import cli, crm_env

pytestmark = pytest.mark.crm

NAME = "Erasable Hooli GmbH"
EMAIL = "dpo@erasable.example"
SECRETS = (NAME, EMAIL, "ap.dpo@erasable.example", "crm-side@erasable.example",
           "stripe-side@erasable.example")  # fmt: skip
BYSTANDER = "Globex Bystander Corp"


def balances(root: Path) -> dict[tuple[str, str], Decimal]:
    entries, errors, _ = loader.load_file(str(root / "books" / "main.beancount"))
    assert errors == []
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        for posting in getattr(entry, "postings", ()) or ():
            totals[posting.account, posting.units.currency] += posting.units.number
    return dict(totals)


def state_bytes(root: Path, state: str) -> bytes:
    """Everything the state store holds, as bytes: files (SQLite) or rows as text (PG)."""
    if state.startswith("postgresql://"):
        schema = state.split("schema=", 1)[1]
        chunks = []
        with psycopg.connect(state.split("?", 1)[0], autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,)).fetchall()]  # fmt: skip
            for table in tables:
                query = sql.SQL("SELECT t::text FROM {}.{} t").format(
                    sql.Identifier(schema), sql.Identifier(table))  # fmt: skip
                chunks += [str(r[0]).encode() for r in conn.execute(query).fetchall()]
        return b"\n".join(chunks)
    db = root / ".billbridge" / "state.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    found = b""
    for path in (db, db.with_name("state.db-wal"), db.with_name("state.db-shm")):
        if path.exists():
            found += path.read_bytes()
    return found


def files_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*"))
                    if p.is_file() and ".billbridge/state.db" not in str(p))  # fmt: skip


def traces(blob: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in blob]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_erase_leaves_no_trace_and_keeps_books_and_audit(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, crm: CrmServer,
    localstripe: str, stripe_client: stripe.StripeClient,
) -> None:  # fmt: skip
    state = request.getfixturevalue("pg_url") if backend == "postgres" else ""
    plans(stripe_client)
    ok(crm.api("POST", "/api/custom-fields/", {"target_model": "Opportunity", "key": "plan",
                                               "label": "Plan", "field_type": "text"}))  # fmt: skip
    account, _ = crm_account(crm, NAME, EMAIL)
    other, _ = crm_account(crm, BYSTANDER, "ap@globex.example")
    deal = ok(crm.api("POST", "/api/opportunities/", {
        "name": f"{NAME} hosting", "account": account, "amount": "49.00", "currency": "EUR",
        "stage": "NEGOTIATION", "custom_fields": {"plan": "pro"}}))["id"]  # fmt: skip
    with AlertReceiver() as alerts:
        root = loop_workspace(tmp_path / "ws", crm, localstripe,
                              alert_url=f"http://127.0.0.1:{alerts.port}/hook")  # fmt: skip
        env = {**crm_env(crm), **({"BILLBRIDGE_STATE": state} if state else {})}

        def run(*args: str) -> Any:
            code, out = cli(root, env, *args)
            assert code in (0, 1), out
            return out

        run("sync", "crm-to-stripe")
        customer = stripe_customers(stripe_client)[f"crm:customer:{account}"][0]["id"]
        pay_by_card(stripe_client, customer)
        ok(crm.api("PATCH", f"/api/opportunities/{deal}/",
                   {"stage": "CLOSED_WON", "closed_on": "2026-01-05"}))  # fmt: skip
        run("sync", "crm-to-stripe")
        run("sync", "--backfill", "stripe-to-books")
        run("sync", "stripe-to-crm")
        ok(crm.api("PATCH", f"/api/opportunities/{deal}/",
                   {"custom_fields": {"plan": "business"}, "amount": "99.00"}))  # fmt: skip
        run("sync", "crm-to-stripe")
        assert [b["account"] for b in alerts.bodies] == [NAME]
        ok(crm.api("PUT", f"/api/accounts/{account}/",
                   {"name": NAME, "email": "crm-side@erasable.example"}))  # fmt: skip
        stripe_client.v1.customers.update(
            customer, params={"email": "stripe-side@erasable.example"}
        )
        run("sync", "crm-to-stripe", "stripe-to-crm")
        assert [q["field"] for q in run("queue")] == ["email"]
    push = run("stripe", "push-customer", "--from",
               f'{{"name": "{NAME}", "email": "{EMAIL}", '
               f'"metadata": {{"billbridge_key": "crm:customer:{account}"}}}}')  # fmt: skip
    assert push
    store = open_store(state or root / ".billbridge" / "state.db")
    try:  # a delivery the CRM sent about the account, as the receiver stores it
        body = next(b for h, b in crm.hooks if h["X-BottleCRM-Event"] == "account.updated")
        store.inbox_add(event_id="ev-erase", connection="crm", type="account.updated",
                        object_key=f"crm:customer:{account}", created=1, payload=body,
                        flows=("crm-to-stripe",))  # fmt: skip
        store.add_user(name="ops", role="operator", password_hash="x")
        ops = {**env, "BILLBRIDGE_TOKEN": create_token(store, user="ops", label="test")}
        store.add_user(name="ada", role="admin", password_hash="x")
        # with users in the store, a production flow's commands need a signed-in identity
        env["BILLBRIDGE_TOKEN"] = create_token(store, user="ada", label="test")
    finally:
        store.close()
    before = balances(root)
    assert traces(state_bytes(root, state)) and traces(files_bytes(root))

    code, refused = cli(root, env, "erase", f"crm:customer:{account}")
    assert code == 2 and "say why" in refused["error"]
    reason = ("--reason", "GDPR request 2026-17")
    code, refused = cli(root, ops, "erase",
                        f"crm:customer:{account}", *reason)  # fmt: skip
    assert code == 2 and "`erase` needs the admin role" in refused["error"]
    named = {k: v for k, v in env.items() if k != "BILLBRIDGE_TOKEN"} | {"BILLBRIDGE_ACTOR": "ada"}
    code, refused = cli(root, named, "erase", f"crm:customer:{account}", *reason)
    assert code == 2 and "sign in" in refused["error"]  # a name from the environment proves nothing
    assert traces(state_bytes(root, state))
    code, done = cli(root, env, "erase", f"crm:customer:{account}",
                     *reason)  # fmt: skip
    assert code == 0, done
    assert sorted(done["subjects"]) == sorted([f"crm:customer:{account}",
                                               f"stripe:customer:{customer}"])  # fmt: skip
    assert done["files"]["books"] >= 1

    assert traces(state_bytes(root, state)) == []
    assert traces(files_bytes(root)) == []
    assert BYSTANDER.encode() in state_bytes(root, state)  # the others stay whole
    assert run("audit", "--verify")["ok"] is True
    check = subprocess.run([str(Path(".venv/bin/bean-check").resolve()),
                            str(root / "books" / "main.beancount")],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert balances(root) == before

    for flows in (("crm-to-stripe", "stripe-to-crm"), ("--backfill", "stripe-to-books")):
        out = run("sync", *flows)
        assert sum(r["posted"] for r in out.get("runs", [out])) == 0
    assert traces(state_bytes(root, state)) == []
    assert traces(files_bytes(root)) == []
    erased = [a for a in run("audit") if a["action"] == "erased"]
    assert len(erased) == 1 and not traces(str(erased[0]).encode())
    _ = other
