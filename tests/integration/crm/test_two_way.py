"""Two-way sync of customers between a real BottleCRM and Stripe (localstripe), with owners.

billbridge.yaml (tests/integration/crm/_loop.py) says: the CRM owns `name` (a change
made in Stripe is reverted) and `email` (a change made in Stripe is a conflict); Stripe
owns `address` (a change made in the CRM is a conflict). Every check reads what the
systems hold, over their own APIs, and counts the changes each system saw (the CRM's
`account.updated` deliveries, Stripe's `customer.updated` events).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import stripe

from billbridge.config import load_workspace
from billbridge.service.app import create_app
from billbridge.service.auth import create_token
from billbridge.store import open_store
from tests.crm_server import CrmServer

from ._loop import crm_account, loop_workspace, ok, stripe_customers
from ._workspace import bound_socket, cli, crm_env, serving_on

pytestmark = pytest.mark.crm


class Loop:
    """One workspace over the fixtures' CRM and localstripe, with its CLI."""

    def __init__(self, root: Path, crm: CrmServer, api_base: str, client: stripe.StripeClient):
        self.root = loop_workspace(root, crm, api_base)
        self.crm = crm
        self.env = crm_env(crm)
        self.stripe = client

    def sync(self, *flows: str) -> dict[str, int]:
        """Posted writes per flow; every flow of the pair by default."""
        code, out = cli(self.root, self.env, "sync", *(flows or ("crm-to-stripe", "stripe-to-crm")))
        assert code in (0, 1), out
        return {r["flow"]: r["posted"] for r in out.get("runs", [out])}

    def run(self, *args: str) -> tuple[int, Any]:
        return cli(self.root, self.env, *args)

    def account(self, ident: str) -> dict[str, Any]:
        return ok(self.crm.api("GET", f"/api/accounts/{ident}/"))["account_obj"]  # type: ignore[no-any-return]

    def customer(self, account: str) -> dict[str, Any]:
        (found,) = stripe_customers(self.stripe)[f"crm:customer:{account}"]
        return found

    def crm_updates(self, account: str) -> int:
        return sum(1 for h, body in self.crm.hooks
                   if h["X-BottleCRM-Event"] == "account.updated"
                   and orjson.loads(body)["data"]["id"] == account)  # fmt: skip

    def stripe_updates(self, customer: str) -> int:
        events = self.stripe.v1.events.list(params={"limit": 100}).data
        return sum(1 for e in events if e.type == "customer.updated"
                   and e.data.object["id"] == customer)  # fmt: skip


@pytest.fixture
def loop(tmp_path: Path, crm: CrmServer, localstripe: str,
         stripe_client: stripe.StripeClient) -> Loop:  # fmt: skip
    return Loop(tmp_path / "ws", crm, localstripe, stripe_client)


def linked(loop: Loop) -> tuple[str, str]:
    account, _ = crm_account(loop.crm, "Hooli", "billing@hooli.example")
    assert loop.sync() == {"crm-to-stripe": 1, "stripe-to-crm": 0}
    return account, loop.customer(account)["id"]


def test_an_owned_edit_propagates_once_and_never_echoes(loop: Loop) -> None:
    account, customer = linked(loop)
    assert loop.sync() == {"crm-to-stripe": 0, "stripe-to-crm": 0}

    ok(loop.crm.api("PUT", f"/api/accounts/{account}/", {"name": "Hooli Inc"}))  # CRM owns it
    moved = {"line1": "Allee 9", "city": "Hamburg", "postal_code": "20095", "country": "DE"}
    loop.stripe.v1.customers.update(customer, params={"address": moved})
    for _ in range(3):  # N syncs after one edit on each side: one write to each side, once
        loop.sync()
    assert loop.customer(account)["name"] == "Hooli Inc"
    held = loop.account(account)
    assert (held["address_line"], held["city"], held["postcode"]) == ("Allee 9", "Hamburg", "20095")
    assert loop.crm_updates(account) == 2  # the person's edit, billbridge's address
    assert loop.stripe_updates(customer) == 2  # the person's edit, billbridge's name
    assert loop.run("queue") == (0, [])


def test_a_non_owner_edit_is_reverted_or_queued_by_its_policy(loop: Loop) -> None:
    account, customer = linked(loop)
    loop.stripe.v1.customers.update(customer, params={"name": "HOOLI (typo)"})
    assert loop.sync("stripe-to-crm") == {"stripe-to-crm": 1}  # name: crm owns, policy revert
    assert loop.customer(account)["name"] == "Hooli"
    store = open_store(loop.root / ".billbridge" / "state.db")
    try:
        reverted = [a for a in store.audit_rows() if a.action == "reverted"]
        assert [(a.diff["fields"][1], a.diff["side"][1]) for a in reverted] == [
            (["name"], "stripe")
        ]
    finally:
        store.close()

    ok(loop.crm.api("PUT", f"/api/accounts/{account}/", {"name": "Hooli",
                                                          "city": "Munich"}))  # fmt: skip
    assert loop.sync() == {"crm-to-stripe": 0, "stripe-to-crm": 0}  # address: stripe owns it
    assert loop.customer(account)["address"]["city"] == "Berlin"
    code, queue = loop.run("queue")
    assert [(q["kind"], q["field"], q["record"]) for q in queue] == [
        ("conflict", "address", f"crm:customer:{account}")
    ]
    assert "Munich" in queue[0]["error"] and "Berlin" in queue[0]["error"]
    code, done = loop.run("resolve", str(queue[0]["id"]), "--take", "stripe")
    assert code == 0, done
    assert done["written"] == {"crm": ["address"]}
    assert loop.account(account)["city"] == "Berlin"
    assert loop.run("queue")[1] == []
    assert loop.sync() == {"crm-to-stripe": 0, "stripe-to-crm": 0}


def test_a_change_on_both_sides_is_queued_with_both_values_and_resolved(loop: Loop) -> None:
    account, customer = linked(loop)
    edit = {"name": "Hooli", "email": "ap@hooli.example"}
    ok(loop.crm.api("PUT", f"/api/accounts/{account}/", edit))
    loop.stripe.v1.customers.update(customer, params={"email": "finance@hooli.example"})
    assert loop.sync() == {"crm-to-stripe": 0, "stripe-to-crm": 0}
    code, queue = loop.run("queue")
    assert [(q["kind"], q["field"]) for q in queue] == [("conflict", "email")]
    error = queue[0]["error"]
    for text in ("ap@hooli.example", "finance@hooli.example", "billing@hooli.example",
                 "changed on both sides"):  # fmt: skip
        assert text in error
    store = open_store(loop.root / ".billbridge" / "state.db")
    try:
        (row,) = store.conflicts_of_record("crm-to-stripe", f"crm:customer:{account}")
        assert (row.a_actor, row.b_actor, row.base) == ("crm", "stripe",
                                                        '"billing@hooli.example"')  # fmt: skip
        assert (row.a_value, row.b_value) == ('"ap@hooli.example"', '"finance@hooli.example"')
        assert row.a_at is not None and row.b_at is not None
    finally:
        store.close()
    assert loop.sync() == {"crm-to-stripe": 0, "stripe-to-crm": 0}  # still one row
    assert len(loop.run("queue")[1]) == 1

    code, done = loop.run("resolve", str(queue[0]["id"]), "--take", "stripe")
    assert code == 0, done
    assert loop.account(account)["email"] == "finance@hooli.example"
    assert loop.customer(account)["email"] == "finance@hooli.example"
    assert loop.run("queue")[1] == []
    for _ in range(2):
        assert loop.sync() == {"crm-to-stripe": 0, "stripe-to-crm": 0}
    store = open_store(loop.root / ".billbridge" / "state.db")
    try:
        audit = [a for a in store.audit_rows() if a.action in ("conflict", "resolved")]
        assert [a.action for a in audit] == ["conflict", "conflict", "resolved"]
        text = orjson.dumps([a.diff for a in audit]).decode()
        assert "hooli.example" not in text  # values only as salted hashes
        assert store.verify_audit().ok
    finally:
        store.close()


def test_a_conflict_is_resolved_through_the_api_and_the_page(loop: Loop) -> None:
    account, customer = linked(loop)
    ok(loop.crm.api("PUT", f"/api/accounts/{account}/", {"name": "Hooli", "city": "Munich"}))
    loop.sync()
    ((row,),) = [loop.run("queue")[1]]
    workspace = load_workspace(loop.root, env=loop.env)
    store = open_store(loop.root / ".billbridge" / "state.db")
    try:
        store.add_user(name="ops", role="operator", password_hash="x")
        token = create_token(store, user="ops", label="test")
        store.add_user(name="ada", role="admin", password_hash="x")
        admin = create_token(store, user="ada", label="test")
    finally:
        store.close()
    loop.env["BILLBRIDGE_TOKEN"] = admin  # a store with users: the CLI acts as a signed-in user
    headers = {"Authorization": f"Bearer {token}"}
    with (
        serving_on(bound_socket(), create_app(workspace)) as base,
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
    ):
        page = client.get(f"/conflicts/{row['id']}")
        assert page.status_code == 200, page.text
        assert "Munich" in page.text and "Berlin" in page.text and "Keep stripe" in page.text
        refused = client.post(f"/api/queue/{row['id']}/resolve", json={"take": "books"})
        assert refused.status_code == 409 and "crm and stripe" in refused.json()["detail"]
        answer = client.post(
            f"/api/queue/{row['id']}/resolve",
            json={"value": '{"line1": "Hauptstr. 1", "city": "Potsdam", '
                           '"postal_code": "14467", "country": "DE"}'},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["written"] == {"crm": ["address"], "stripe": ["address"]}
        assert loop.account(account)["city"] == "Potsdam"
        assert loop.customer(account)["address"]["city"] == "Potsdam"
        assert loop.sync() == {"crm-to-stripe": 0, "stripe-to-crm": 0}

        loop.stripe.v1.customers.update(customer, params={"name": "Hooli Stripe"})
        ok(loop.crm.api("PUT", f"/api/accounts/{account}/", {"name": "Hooli CRM"}))
        loop.sync()
        ((second,),) = [loop.run("queue")[1]]
        form = client.post(f"/conflicts/{second['id']}/resolve", data={"take": "crm"},
                           follow_redirects=True)  # fmt: skip
        assert form.status_code == 200 and "Resolved row" in form.text

        erase = {"subject": "crm:customer:nobody", "reason": "GDPR request"}
        assert client.post("/api/erase", json=erase).status_code == 403  # operators may not
        answer = client.post("/api/erase", json=erase,
                             headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
        assert answer.status_code == 404 and "holds no record" in answer.json()["detail"]
    assert loop.customer(account)["name"] == "Hooli CRM"
    assert loop.run("queue")[1] == []


def test_a_deletion_archives_the_link_and_deletes_nothing_else(loop: Loop) -> None:
    account, customer = linked(loop)
    ok(loop.crm.api("DELETE", f"/api/accounts/{account}/"))
    loop.sync()
    assert loop.stripe.v1.customers.retrieve(customer).to_dict().get("deleted") is not True
    _, queue = loop.run("queue")
    assert [(q["kind"], q["field"]) for q in queue] == [("conflict", "deleted")]
    assert "archived" in queue[0]["error"]
    store = open_store(loop.root / ".billbridge" / "state.db")
    try:
        (link,) = store.links_for_key(f"crm:customer:{account}")
        assert link.status == "archived"
    finally:
        store.close()
    loop.stripe.v1.customers.update(customer, params={"name": "Hooli (kept)"})
    assert loop.sync() == {"crm-to-stripe": 0, "stripe-to-crm": 0}  # nothing is recreated
    status, _ = loop.crm.api("GET", f"/api/accounts/{account}/")
    assert status == 404
