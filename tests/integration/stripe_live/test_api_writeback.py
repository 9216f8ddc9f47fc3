"""`POST /api/stripe/invoices/{id}/mark-paid` and `/void` as an operator, against localstripe."""

from __future__ import annotations

from pathlib import Path

import httpx
import stripe

from billbridge.config import Workspace, load_workspace
from billbridge.service.app import create_app
from billbridge.service.auth import create_token, hash_password
from billbridge.wiring import open_workspace_store

from ._webhooks import serving
from .conftest import TEST_KEY
from .test_cli_writeback import _open_invoice, _workspace


def _operator(ws: Workspace) -> str:
    store = open_workspace_store(ws)
    try:
        store.add_user(name="otto", role="operator", password_hash=hash_password("x" * 12))
        return create_token(store, user="otto")
    finally:
        store.close()


def test_production_needs_confirm_and_an_export_connection_cannot_write_back(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    invoice = _open_invoice(stripe_client)
    root = _workspace(tmp_path / "ws", localstripe, mode="production")
    ws = load_workspace(root, env={"STRIPE_API_KEY": "sk_live_billbridge_localstripe"})
    auth = {"Authorization": f"Bearer {_operator(ws)}"}
    path = f"/api/stripe/invoices/{invoice}/void"
    with serving(create_app(ws)) as url, httpx.Client(base_url=url, timeout=30) as http:
        unconfirmed = http.post(path, json={}, headers=auth)
        assert unconfirmed.status_code == 428
        assert "confirm" in unconfirmed.json()["detail"]
        assert stripe_client.v1.invoices.retrieve(invoice).status == "open"
        unknown = http.post(path, json={"connection": "books", "confirm": True}, headers=auth)
        assert unknown.status_code == 400
        assert "no Stripe connection 'books'" in unknown.json()["detail"]
        confirmed = http.post(path, json={"confirm": True}, headers=auth)
        assert confirmed.status_code == 200, confirmed.text
    assert stripe_client.v1.invoices.retrieve(invoice).status == "void"


def test_operator_marks_paid_and_voids_through_the_api(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    paid, voided = _open_invoice(stripe_client), _open_invoice(stripe_client)
    root = _workspace(tmp_path / "ws", localstripe)
    ws = load_workspace(root, env={"STRIPE_API_KEY": TEST_KEY})
    store = open_workspace_store(ws)
    try:
        store.add_user(name="otto", role="operator", password_hash=hash_password("x" * 12))
        store.add_user(name="vera", role="viewer", password_hash=hash_password("x" * 12))
        operator = create_token(store, user="otto")
        viewer = create_token(store, user="vera")
    finally:
        store.close()
    with serving(create_app(ws)) as url, httpx.Client(base_url=url, timeout=30) as http:

        def post(path: str, token: str) -> httpx.Response:
            return http.post(path, json={}, headers={"Authorization": f"Bearer {token}"})

        assert post(f"/api/stripe/invoices/{paid}/mark-paid", viewer).status_code == 403
        done = post(f"/api/stripe/invoices/{paid}/mark-paid", operator)
        assert done.status_code == 200, done.text
        assert done.json()["object_status"] == "paid"
        again = post(f"/api/stripe/invoices/{paid}/mark-paid", operator)
        assert again.json()["status"] == "already-done"
        assert post(f"/api/stripe/invoices/{voided}/void", operator).status_code == 200
        refused = post(f"/api/stripe/invoices/{paid}/void", operator)
        assert refused.status_code == 409
        detail = refused.json()["detail"]
        assert "request req_localstripe" in detail["error"]
        assert TEST_KEY not in refused.text
    assert stripe_client.v1.invoices.retrieve(paid).status == "paid"
    assert stripe_client.v1.invoices.retrieve(voided).status == "void"
    store = open_workspace_store(ws)
    try:
        rows = store.audit_rows(record_key=f"stripe:invoice:{paid}")
    finally:
        store.close()
    assert [(r.actor, r.action) for r in rows] == [
        ("token:otto", "writeback-mark-paid"),
        ("token:otto", "writeback-failed"),
    ]
