"""CSRF on every form, harmless injection-shaped filters, rate-limited logins, cookies, audit."""

from __future__ import annotations

import pytest

from .conftest import BROKEN, USERS, Service, csrf_of, password

FORMS = [
    ("/queue/preview", {"key": BROKEN}),
    ("/queue/replay", {"key": BROKEN}),
    ("/queue/retry", {"row": "1"}),
    ("/queue/dismiss", {"row": "1", "reason": "csrf"}),
    ("/logout", {}),
]


@pytest.mark.parametrize(("path", "form"), FORMS)
def test_a_form_without_the_csrf_token_is_refused(
    service: Service, path: str, form: dict[str, str]
) -> None:
    client, csrf = service.browser_login("operator")
    assert client.post(path, data=form).status_code == 403
    assert client.post(path, data={**form, "csrf_token": csrf[::-1]}).status_code == 403
    assert client.get("/queue").status_code == 200, "the session is still live"
    queue = service.api("viewer").get("/api/queue").json()
    assert [q["record"] for q in queue] == [BROKEN], "nothing was done"


def test_the_login_form_has_its_own_csrf_check(service: Service) -> None:
    client = service.api()
    answer = client.post("/login", data={"username": "otto", "password": password("otto")})
    assert answer.status_code == 403
    assert "bb_session" not in client.cookies


def test_api_calls_with_a_session_need_the_csrf_header(service: Service) -> None:
    client, csrf = service.browser_login("operator")
    body = {"keys": [BROKEN], "dry_run": True}
    assert client.post("/api/queue/replay", json=body).status_code == 403
    ok = client.post("/api/queue/replay", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200


def test_session_cookie_flags(service: Service) -> None:
    client = service.api()
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"username": "vera", "password": password("vera"), "csrf_token": token}
    )
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("bb_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "secure" not in flags  # plain http on loopback; behind TLS the flag is set
    behind_tls = service.api(**{"X-Forwarded-Proto": "https"})
    form = behind_tls.get("/login")
    assert "secure" in form.headers["set-cookie"].lower()
    token = csrf_of(form.text)
    answer = behind_tls.post(  # httpx keeps Secure cookies from plain http: send it by hand
        "/login",
        data={"username": "vera", "password": password("vera"), "csrf_token": token},
        headers={"Cookie": f"bb_login_csrf={token}"},
    )
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("bb_session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_failed_logins_are_rate_limited(service: Service) -> None:
    client = service.api()
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        wrong = client.post(
            "/login", data={"username": "otto", "password": "guess", "csrf_token": token}
        )
        assert wrong.status_code == 200
        assert "Wrong user name or password" in wrong.text
    right = {"username": "otto", "password": password("otto"), "csrf_token": token}
    assert client.post("/login", data=right).status_code == 429
    other, _ = service.browser_login("viewer")  # another user is not locked out
    assert other.get("/queue").status_code == 200


INJECTIONS = [
    "' OR '1'='1",
    "x'; DROP TABLE exceptions; --",
    "<script>alert(1)</script>",
    "../../etc",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_shaped_filters_are_harmless(service: Service, text: str) -> None:
    api = service.api("viewer")
    assert api.get("/api/queue", params={"flow": text}).json() == []
    assert api.get("/api/queue", params={"kind": text}).json() == []
    assert api.get("/api/audit", params={"actor": text, "record": text}).json() == []
    assert api.get("/api/runs", params={"flow": text}).json() == []
    assert api.get("/api/trace/" + text.replace("/", "%2F")).status_code == 404
    client, _ = service.browser_login("viewer")
    for path in ("/queue?flow=", "/audit?actor=", "/trace?ref="):
        page = client.get(path + text)
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
    assert [q["record"] for q in api.get("/api/queue").json()] == [BROKEN], "the queue is intact"
    assert api.get("/api/audit/verify").json()["ok"] is True


def test_every_web_action_is_audited_with_the_acting_user(service: Service) -> None:
    client, csrf = service.browser_login("operator")
    page = client.post("/queue/preview", data={"key": BROKEN, "csrf_token": csrf})
    assert "txr_at_vat20" in page.text, "the preview says why it would still fail"
    row = service.api("viewer").get("/api/queue").json()[0]["id"]
    answer = client.post(
        "/queue/dismiss", data={"row": row, "reason": "duplicate", "csrf_token": csrf}
    )
    assert answer.status_code == 303
    client.post("/logout", data={"csrf_token": csrf})
    rows = service.api("viewer").get("/api/audit", params={"actor": USERS["operator"]}).json()
    assert [r["action"] for r in rows] == ["login", "previewed", "dismissed", "logout"]
    assert rows[2]["record_key"] == BROKEN
    assert rows[2]["diff"]["resolution"] == ["", "duplicate"]
    assert client.get("/queue").status_code == 303 or "Log in" in client.get("/queue").text


def test_pages_forbid_framing_and_foreign_scripts(service: Service) -> None:
    client, _ = service.browser_login("viewer")
    for path in ("/queue", "/login", "/api/queue"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src" not in headers["content-security-policy"]  # default-src 'self'
        assert headers["x-content-type-options"] == "nosniff"
