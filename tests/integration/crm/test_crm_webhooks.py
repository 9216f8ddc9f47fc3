"""The CRM's signed webhooks reach billbridge's receiver and post, once; forgeries do not.

A real BottleCRM sends its deliveries (signed `X-BottleCRM-Signature: t=…,v1=…`) to the
receiver `billbridge serve` mounts at `/webhooks/<connection>`, served by uvicorn on a
loopback socket. Each delivery is sent inside the CRM API call that caused it, so it has
arrived when the call returns. Checked against the store and the ledger: an issued CRM
invoice posts once from its webhook; a forged, a stale and a future-stamped delivery
are refused and store nothing; a delivery replayed word for word is stored once and
posts nothing more; a change made while the receiver is down (the CRM never retries)
is posted by the next poll (`billbridge sync`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from beancount import loader

from billbridge.config import load_workspace
from billbridge.service.app import create_app
from billbridge.wiring import open_workspace_store
from tests.crm_server import run_crm

from ._workspace import (
    Recorder,
    books_workspace,
    bound_socket,
    cli,
    crm_env,
    serving_on,
    wait_for,
)

pytestmark = pytest.mark.crm


def ok(answer: tuple[int, Any]) -> Any:
    status, body = answer
    assert status in (200, 201), body
    return body


def sign(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def test_signed_crm_webhooks_post_once_and_forgeries_are_refused(tmp_path: Path) -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    hook = f"http://127.0.0.1:{port}/webhooks/crm"
    with run_crm(tmp_path / "crm", webhook_urls=[hook]) as crm:
        root = books_workspace(tmp_path / "ws", crm)
        env = crm_env(crm)
        workspace = load_workspace(root, env=env)

        def ledger_keys() -> list[str]:
            entries, errors, _ = loader.load_file(str(root / "books" / "main.beancount"))
            assert errors == []
            return [
                str(e.meta.get("billbridge-key")) for e in entries if "billbridge-key" in e.meta
            ]

        recorder = Recorder(create_app(workspace))
        with serving_on(sock, recorder) as base:
            account = ok(crm.api("POST", "/api/accounts/", {"name": "Hooli"}))
            contact = ok(crm.api("POST", "/api/contacts/", {
                "first_name": "Ap", "last_name": "Hooli", "account": account["id"]}))  # fmt: skip
            made = ok(crm.api("POST", "/api/invoices/", {
                "invoice_title": "Setup", "account_id": account["id"],
                "contact_id": contact["id"], "currency": "EUR",
                "line_items": [{"description": "Setup", "quantity": "1", "unit_price": "99.00"}],
            }))["invoice"]  # fmt: skip
            ok(crm.api("POST", f"/api/invoices/{made['id']}/send/", {}))
            key = f"crm:invoice:{made['id']}"

            def posted() -> bool:
                store = open_workspace_store(workspace)
                try:
                    return bool(store.postings_for(key)) and not store.inbox_pending("crm")
                finally:
                    store.close()

            assert wait_for(posted), "the issued invoice did not post from its webhook"
            assert ledger_keys().count(key) == 1

            # Forged, stale and future-stamped deliveries: refused, nothing stored.
            body = (b'{"id":"ev-forged","event":"invoice.updated","created_at":'
                    b'"2026-01-05T10:00:00+00:00","org_id":"o","data":{"id":"' +
                    made["id"].encode() + b'"}}')  # fmt: skip
            now = int(time.time())
            for header, words in (
                (sign("not-the-secret", body, now), "does not match"),
                (sign(crm.webhook_secret, body, now - 3600), "ago"),
                (sign(crm.webhook_secret, body, now + 3600), "ahead"),
                ("", "no X-BottleCRM-Signature"),
            ):
                signed = {"X-BottleCRM-Signature": header} if header else {}
                answer = httpx.post(f"{base}/webhooks/crm", content=body, headers=signed)
                assert answer.status_code == 400, answer.text
                assert words in answer.json()["error"]
            store = open_workspace_store(workspace)
            assert store.inbox_get("ev-forged") is None
            store.close()

            # A real delivery replayed word for word: stored once, posts nothing more.
            delivered = [(h, b) for h, b in recorder.posts if "x-bottlecrm-event" in h]
            assert [h["x-bottlecrm-event"] for h, _ in delivered][-2:] == [
                "invoice.created",
                "invoice.updated",
            ]
            headers, replay_body = delivered[-1]
            before = len(recorder.posts)
            answer = httpx.post(f"{base}/webhooks/crm", content=replay_body, headers={
                "X-BottleCRM-Signature": headers["x-bottlecrm-signature"]})  # fmt: skip
            assert len(recorder.posts) == before + 1
            assert answer.status_code == 200 and answer.json()["duplicate"] is True
            assert wait_for(posted)
            assert ledger_keys().count(key) == 1

        # The receiver stored a delivery and died before draining it: the worker drains it.
        stored = ok(crm.api("POST", "/api/invoices/", {
            "invoice_title": "Stored", "account_id": account["id"], "contact_id": contact["id"],
            "currency": "EUR",
            "line_items": [{"description": "Stored", "quantity": "1", "unit_price": "5.00"}],
        }))["invoice"]  # fmt: skip
        ok(crm.api("POST", f"/api/invoices/{stored['id']}/send/", {}))
        event = {"id": "ev-stored", "event": "invoice.updated",
                 "created_at": "2026-01-05T10:00:00+00:00", "org_id": crm.org_id,
                 "data": {"id": stored["id"], "status": "Sent"}}  # fmt: skip
        store = open_workspace_store(workspace)
        try:
            store.inbox_add(event_id="ev-stored", connection="crm", type="invoice.updated",
                            object_key=f"crm:invoice:{stored['id']}", created=1,
                            payload=orjson.dumps(event), flows=("crm-to-books",))  # fmt: skip
        finally:
            store.close()
        code, jobs = cli(root, env, "worker", "--once")
        assert code == 0, jobs
        assert ledger_keys().count(f"crm:invoice:{stored['id']}") == 1

        # The receiver is down: the CRM's delivery fails and is never retried.
        second = ok(crm.api("POST", "/api/invoices/", {
            "invoice_title": "Extra", "account_id": account["id"], "contact_id": contact["id"],
            "currency": "EUR",
            "line_items": [{"description": "Extra", "quantity": "1", "unit_price": "10.00"}],
        }))["invoice"]  # fmt: skip
        ok(crm.api("POST", f"/api/invoices/{second['id']}/send/", {}))
        missed = f"crm:invoice:{second['id']}"
        assert missed not in ledger_keys()
        code, run = cli(root, env, "sync")
        assert code == 0, run
        assert ledger_keys().count(missed) == 1 and ledger_keys().count(key) == 1
