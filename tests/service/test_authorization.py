"""Every endpoint by every caller: no login, bad token, expired token or session, each role.

The route list is read from the app itself, so a new endpoint without a row here fails
`test_the_matrix_covers_every_route` until someone decides who may call it.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from billbridge.service import api, metrics, ui, ui_admin, ui_mapping, ui_queue

from .conftest import BACKENDS, BROKEN, Service

pytestmark = BACKENDS

RANK = {"viewer": 0, "operator": 1, "mapper": 2, "approver": 3, "admin": 4}
_names = itertools.count()

# (method, path, JSON body or form, least role; None = public)
API: list[tuple[str, str, Any, str | None]] = [
    ("GET", "/api/health", None, None),
    ("GET", "/api/runs", None, "viewer"),
    ("POST", "/api/runs", {"dry_run": True}, "operator"),
    ("GET", "/api/runs/1", None, "viewer"),
    ("GET", f"/api/records/{BROKEN}", None, "viewer"),
    ("GET", f"/api/records/{BROKEN}/history", None, "viewer"),
    ("GET", "/api/queue", None, "viewer"),
    ("POST", "/api/queue/retry", {"ids": [99999]}, "operator"),
    ("POST", "/api/queue/replay", {"keys": [BROKEN], "dry_run": True}, "operator"),
    ("POST", "/api/queue/99999/dismiss", {"reason": "matrix"}, "operator"),
    ("GET", "/api/queue/causes", None, "viewer"),
    ("POST", "/api/queue/causes/replay", {"cause": "tax-rate:txr_at_vat20"}, "operator"),
    ("GET", "/api/audit", None, "viewer"),
    ("GET", "/api/audit/verify", None, "viewer"),
    ("GET", "/api/trace/DEMO-9999", None, "viewer"),
    ("GET", "/api/flows", None, "viewer"),
    ("GET", "/api/connections", None, "viewer"),
    ("GET", "/api/users", None, "admin"),
    ("POST", "/api/users", "new-user", "admin"),
    ("PATCH", "/api/users/nobody-matrix", {"role": "viewer"}, "admin"),
    ("DELETE", "/api/users/nobody-matrix", None, "admin"),
    ("POST", "/api/tokens", {"user": "vera"}, "admin"),
    ("GET", "/api/tokens", None, "admin"),
    ("DELETE", "/api/tokens/99999", None, "admin"),
    ("GET", "/metrics", None, "viewer"),
    ("POST", "/api/reconcile", {"flows": []}, "operator"),
    ("GET", "/api/discrepancies", None, "viewer"),
    ("POST", "/api/stripe/invoices/in_matrix/mark-paid", {}, "operator"),
    ("POST", "/api/stripe/invoices/in_matrix/void", {}, "operator"),
    ("GET", "/api/mapping/stripe-to-books/versions", None, "viewer"),
    ("GET", "/api/mapping/stripe-to-books/versions/abcdef", None, "viewer"),
    ("GET", "/api/mapping/stripe-to-books/diff", None, "viewer"),
    ("POST", "/api/mapping/stripe-to-books/drafts", {"content": "timezone: Mars/Base"}, "mapper"),
    ("POST", "/api/mapping/stripe-to-books/tests", {"draft": "abcdef"}, "mapper"),
    ("GET", "/api/mapping/stripe-to-books/tests/99999", None, "viewer"),
    ("POST", "/api/mapping/stripe-to-books/promote", {"version": "abcdef"}, "approver"),
    ("POST", "/api/mapping/stripe-to-books/rollback", {}, "approver"),
    ("GET", "/api/approvals", None, "viewer"),
    ("POST", f"/api/approvals/{BROKEN}/approve", None, "approver"),
    ("POST", f"/api/approvals/{BROKEN}/reject", {"reason": "matrix"}, "approver"),
]
UI: list[tuple[str, str, Any, str | None]] = [
    ("GET", "/queue", None, "viewer"),
    ("GET", "/runs", None, "viewer"),
    ("GET", "/trace?ref=DEMO-9999", None, "viewer"),
    ("GET", "/audit", None, "viewer"),
    ("POST", "/queue/preview", {"key": BROKEN}, "operator"),
    ("POST", "/queue/replay", {"key": "stripe:invoice:in_nothing"}, "operator"),
    ("POST", "/queue/retry", {"row": "99999"}, "operator"),
    ("POST", "/queue/dismiss", {"row": "99999", "reason": "matrix"}, "operator"),
    ("POST", "/queue/causes/preview", {"cause": "tax-rate:txr_at_vat20"}, "operator"),
    ("POST", "/queue/causes/replay", {"cause": "nothing:matrix"}, "operator"),
    ("GET", "/admin", None, "admin"),
    ("POST", "/admin/users/add", {"name": "matrix-new", "role": "viewer", "password": "x" * 12,
                                  "password2": "x" * 12}, "admin"),
    ("POST", "/admin/users/role", {"name": "nobody-matrix", "role": "viewer"}, "admin"),
    ("POST", "/admin/users/remove", {"name": "nobody-matrix"}, "admin"),
    ("POST", "/admin/tokens/create", {"user": "vera", "label": "matrix"}, "admin"),
    ("POST", "/admin/tokens/revoke", {"token": "99999"}, "admin"),
    ("GET", "/mapping", None, "viewer"),
    ("GET", "/mapping/stripe-to-books", None, "viewer"),
    ("GET", "/mapping/stripe-to-books/tests/99999", None, "viewer"),
    ("POST", "/mapping/stripe-to-books/test", {"draft": ""}, "mapper"),
    ("POST", "/mapping/stripe-to-books/draft", {"content": "timezone: Mars/Base"}, "mapper"),
    ("POST", "/mapping/stripe-to-books/promote", {"version": "abcdef"}, "approver"),
    ("POST", "/mapping/stripe-to-books/rollback", {"x": ""}, "approver"),
    ("GET", "/approvals", None, "viewer"),
    ("POST", "/approvals/decide", {"key": BROKEN, "decision": "approve"}, "approver"),
]  # fmt: skip
PUBLIC_UI = {("GET", "/login"), ("POST", "/login"), ("GET", "/"), ("POST", "/logout")}


def _send(client: httpx.Client, method: str, path: str, body: Any, *, form: bool) -> int:
    if body == "new-user":
        body = {"name": f"user{next(_names)}", "role": "viewer", "password": "x" * 12}
    if method == "GET":
        return client.get(path).status_code
    if form:
        return client.request(method, path, data=body).status_code
    return client.request(method, path, json=body).status_code


def _api_client(service: Service, caller: str) -> httpx.Client:
    if caller == "anonymous":
        return service.api()
    if caller == "bad token":
        return service.api(Authorization="Bearer bb_not-a-real-token")
    if caller == "expired token":
        return service.api(Authorization=f"Bearer {service.tokens['expired']}")
    return service.api(caller)


def test_the_matrix_covers_every_route(service: Service) -> None:
    routes = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in [
            *api.router.routes,
            *ui.router.routes,
            *ui_admin.router.routes,
            *ui_queue.router.routes,
            *ui_mapping.router.routes,
            *metrics.router.routes,
        ]
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    listed = {(m, p.split("?")[0]) for m, p, _, _ in [*API, *UI]} | PUBLIC_UI
    templates = {
        BROKEN: "{key}",
        "/runs/1": "/runs/{run_id}",
        "/queue/99999": "/queue/{exception_id}",
        "DEMO-9999": "{ref}",
        "in_matrix": "{invoice_id}",
        "nobody-matrix": "{name}",
        "/tokens/99999": "/tokens/{token_id}",
        "/mapping/stripe-to-books": "/mapping/{name}",
        "/versions/abcdef": "/versions/{version}",
        "/tests/99999": "/tests/{test_id}",
    }
    for value, name in templates.items():
        listed = {(m, p.replace(value, name)) for m, p in listed}
    assert routes == listed


@pytest.mark.parametrize(
    "caller", ["anonymous", "bad token", "expired token", "viewer", "operator", "admin"]
)
def test_api_allows_each_role_exactly_its_endpoints(service: Service, caller: str) -> None:
    client = _api_client(service, caller)
    wrong = []
    for method, path, body, least in API:
        status = _send(client, method, path, body, form=False)
        if least is None:
            expected_ok = True
        elif caller not in RANK:
            expected_ok = False
            if status != 401:
                wrong.append((method, path, status, "expected 401"))
            continue
        else:
            expected_ok = RANK[caller] >= RANK[least]
        if expected_ok and (status in {401, 403} or status >= 500):
            wrong.append((method, path, status, "expected allowed"))
        if not expected_ok and status != 403:
            wrong.append((method, path, status, "expected 403"))
    assert wrong == []


@pytest.mark.parametrize("caller", ["anonymous", "expired session", "viewer", "operator", "admin"])
def test_web_pages_allow_each_role_exactly_its_actions(service: Service, caller: str) -> None:
    if caller in RANK:
        client, csrf = service.browser_login(caller)
    else:
        client, csrf = service.api(), "none"
        if caller == "expired session":
            client.cookies.set("bb_session", "expired-session")
    wrong = []
    for method, path, body, least in UI:
        form = {**body, "csrf_token": csrf} if body else None
        status = _send(client, method, path, form, form=True)
        if caller not in RANK:
            if status != 303:
                wrong.append((method, path, status, "expected a redirect to /login"))
        elif RANK[caller] >= RANK[least or "viewer"]:
            if status in {401, 403} or status >= 500:
                wrong.append((method, path, status, "expected allowed"))
        elif status != 403:
            wrong.append((method, path, status, "expected 403"))
    assert wrong == []
    page = client.get("/queue")
    if caller in RANK:
        assert ("Preview replay" in page.text) == (caller != "viewer")
        assert ("Dismiss" in page.text) == (caller != "viewer")
        assert ('href="/admin"' in page.text) == (caller == "admin"), "the Admin link"
