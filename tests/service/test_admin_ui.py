"""The admin page over a real server, on both backends: each action, its audit row, refusals.

An admin adds a user, changes a role, removes a user, creates a token (shown once) and
revokes one through the page's forms; each is one audit row naming the admin. A refusal
(the last admin, two different passwords, an unknown user) is a sentence on the page,
never JSON or a stack trace; a form without its CSRF token and an operator get 403.
"""

from __future__ import annotations

import html as html_module
import re
from typing import Any

import httpx

from .conftest import BACKENDS, Service

pytestmark = BACKENDS
HTML = {"Accept": "text/html"}


def _audit(service: Service, action: str) -> list[tuple[str, dict[str, object]]]:
    store = service.store()
    try:
        return [(r.actor, dict(r.diff)) for r in store.search_audit() if r.action == action]
    finally:
        store.close()


def _post(client: httpx.Client, csrf: str, path: str, **form: str) -> httpx.Response:
    return client.post(path, data={**form, "csrf_token": csrf}, headers=HTML)


def _follow(client: httpx.Client, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"], headers=HTML)
    assert page.status_code == 200
    return page.text


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _user_row(html: str, name: str) -> str:
    match = re.search(rf'<tr data-user="{re.escape(name)}">(.*?)</tr>', html, re.S)
    return _text(match.group(1)) if match else ""


def _token_row(html: str, token_id: int) -> str:
    match = re.search(rf'<tr data-token="{token_id}">(.*?)</tr>', html, re.S)
    return _text(match.group(1)) if match else ""


def test_admin_adds_a_user_changes_the_role_and_removes_them(service: Service) -> None:
    admin, csrf = service.browser_login("admin")
    page = admin.get("/admin", headers=HTML)
    assert page.status_code == 200
    assert "vera viewer" in _user_row(page.text, "vera")
    assert "otto operator" in _user_row(page.text, "otto")
    assert 'href="/admin"' in page.text, "the Admin link in the navigation"

    new_password = "a-long-password-1"
    text = _follow(admin, _post(admin, csrf, "/admin/users/add", name="nina", role="operator",
                                password=new_password, password2=new_password))  # fmt: skip
    assert "Added user nina." in text
    assert "nina operator" in _user_row(text, "nina")
    assert new_password not in text
    assert _audit(service, "user-added") == [
        ("ada", {"user": [None, "nina"], "role": [None, "operator"]})
    ]
    nina = service._client()
    login = nina.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token
    logged = nina.post("/login", data={"username": "nina", "password": new_password,
                                       "csrf_token": token.group(1)})  # fmt: skip
    assert logged.status_code == 303, "the new user logs in with the password typed twice"

    text = _follow(admin, _post(admin, csrf, "/admin/users/role", name="nina", role="viewer"))
    assert "Changed the role of nina." in text
    assert "nina viewer" in _user_row(text, "nina")
    assert _audit(service, "role-changed") == [
        ("ada", {"user": ["nina", "nina"], "role": ["operator", "viewer"]})
    ]
    text = _follow(admin, _post(admin, csrf, "/admin/users/role", name="nina", role="viewer"))
    assert "nina has that role already; nothing changed." in text
    assert len(_audit(service, "role-changed")) == 1

    text = _follow(admin, _post(admin, csrf, "/admin/users/remove", name="nina"))
    assert "Removed user nina;" in text
    assert _user_row(text, "nina") == ""
    assert _audit(service, "user-removed") == [
        ("ada", {"user": ["nina", None], "role": ["viewer", None], "tokens": [0, 0]})
    ]
    assert nina.get("/queue").status_code == 303, "nina's open session ends at once"
    assert service.api("viewer").get("/api/audit/verify").json()["ok"]


def test_refusals_are_plain_words_on_the_page(service: Service) -> None:
    admin, csrf = service.browser_login("admin")
    cases: list[tuple[str, dict[str, str], int, str]] = [
        ("/admin/users/role", {"name": "ada", "role": "operator"}, 409,
         "'ada' is the last admin; make another user admin first."),
        ("/admin/users/remove", {"name": "ada"}, 409,
         "'ada' is the last admin; make another user admin first."),
        ("/admin/users/remove", {"name": "ghost"}, 404, "no user 'ghost'."),
        ("/admin/users/role", {"name": "ghost", "role": "viewer"}, 404, "no user 'ghost'."),
        ("/admin/users/role", {"name": "vera", "role": "root"}, 422,
         "role: 'root' is not one of viewer, operator, mapper, approver, admin."),
        ("/admin/users/add", {"name": "nina", "role": "viewer", "password": "a-long-password-1",
                              "password2": "a-long-password-2"}, 422,
         "password: the two passwords differ; type them again."),
        ("/admin/users/add", {"name": "nina", "role": "viewer", "password": "short",
                              "password2": "short"}, 422,
         "password: use at least 12 characters."),
        ("/admin/users/add", {"name": "vera", "role": "viewer", "password": "x" * 12,
                              "password2": "x" * 12}, 409,
         "user 'vera' already exists; pick another name."),
        ("/admin/users/add", {"name": "no spaces", "role": "viewer", "password": "x" * 12,
                              "password2": "x" * 12}, 422, "is not a user name"),
        ("/admin/tokens/create", {"user": "ghost", "label": "x"}, 404, "no user 'ghost'."),
        ("/admin/tokens/create", {"user": "vera", "expires_days": "0"}, 422,
         "expires in (days): '0' is not a whole number from 1 to 3650"),
        ("/admin/tokens/revoke", {"token": "424242"}, 404, "no API token 424242."),
        ("/admin/tokens/revoke", {"token": "abc"}, 422, "token: 'abc' is not a token id."),
    ]  # fmt: skip
    for path, form, status, message in cases:
        answer = _post(admin, csrf, path, **form)
        assert answer.status_code == status, (path, form, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        error = re.search(r'<p class="error" role="alert">(.*?)</p>', answer.text, re.S)
        assert error, (path, form)
        assert message in html_module.unescape(error.group(1)), (path, error.group(1))
        assert "Traceback" not in answer.text
        assert "Users and API tokens" in answer.text, "the page itself, to try again"
    bad = _post(admin, csrf, "/admin/users/add", name="nina", role="admin",
                password="a-long-password-1", password2="nope-nope-nope")  # fmt: skip
    assert 'value="nina"' in bad.text, "the form keeps what was typed (never the password)"
    assert "a-long-password-1" not in bad.text
    store = service.store()
    try:
        assert store.get_user("nina") is None
        assert store.get_user("ada").role == "admin"  # type: ignore[union-attr]
    finally:
        store.close()
    for action in ("user-added", "role-changed", "user-removed", "token-created"):
        assert _audit(service, action) == [], f"a refusal writes no {action} row"


def test_admin_creates_a_token_shown_once_and_revokes_it(service: Service) -> None:
    admin, csrf = service.browser_login("admin")
    created = _post(admin, csrf, "/admin/tokens/create", user="vera", label="nightly",
                    expires_days="30")  # fmt: skip
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    match = re.search(r'<code class="secret" id="new-token">(bb_[^<]+)</code>', created.text)
    assert match, created.text
    token = match.group(1)
    assert "Copy it now: it is not shown again." in created.text
    script = service.api(Authorization=f"Bearer {token}")
    assert script.get("/api/runs").status_code == 200, "the token works, as vera"

    page = admin.get("/admin", headers=HTML).text
    assert token not in page, "the list never shows a token"
    ids = [int(i) for i in re.findall(r'<tr data-token="(\d+)">', page)]
    (new_id,) = [i for i in ids if "nightly" in _token_row(page, i)]
    row = _token_row(page, new_id)
    assert "vera nightly" in row
    assert "active" in row
    assert "never" not in row.split("nightly", 1)[1].split("UTC")[1], "it expires"
    assert _audit(service, "token-created") == [
        ("ada", {"user": [None, "vera"], "label": [None, "nightly"]})
    ]
    assert token not in str(_audit(service, "token-created"))

    text = _follow(admin, _post(admin, csrf, "/admin/tokens/revoke", token=str(new_id)))
    assert f"Revoked token {new_id};" in text
    assert "revoked" in _token_row(text, new_id)
    assert "Revoke" not in _token_row(text, new_id), "no button on a revoked token"
    assert script.get("/api/runs").status_code == 401
    assert _audit(service, "token-revoked") == [
        ("ada", {"token": [new_id, new_id], "user": ["vera", "vera"],
                 "label": ["nightly", "nightly"], "revoked": [False, True]})
    ]  # fmt: skip
    text = _follow(admin, _post(admin, csrf, "/admin/tokens/revoke", token=str(new_id)))
    assert f"Token {new_id} was revoked already; nothing changed." in text
    assert len(_audit(service, "token-revoked")) == 1


def test_without_the_csrf_token_or_as_operator_nothing_changes(service: Service) -> None:
    admin, csrf = service.browser_login("admin")
    forms: list[tuple[str, dict[str, Any]]] = [
        ("/admin/users/add", {"name": "nina", "role": "admin", "password": "x" * 12,
                              "password2": "x" * 12}),
        ("/admin/users/role", {"name": "vera", "role": "admin"}),
        ("/admin/users/remove", {"name": "otto"}),
        ("/admin/tokens/create", {"user": "vera", "label": "csrf"}),
        ("/admin/tokens/revoke", {"token": "1"}),
    ]  # fmt: skip
    for path, form in forms:
        missing = admin.post(path, data=form, headers=HTML)
        assert missing.status_code == 403, path
        assert "missing or wrong CSRF token" in missing.text
        wrong = admin.post(path, data={**form, "csrf_token": "not-" + csrf}, headers=HTML)
        assert wrong.status_code == 403, path

    operator, op_csrf = service.browser_login("operator")
    page = operator.get("/admin", headers=HTML)
    assert page.status_code == 403
    assert "otto is a operator; this needs admin" in page.text
    assert 'href="/admin"' not in operator.get("/queue").text
    for path, form in forms:
        assert operator.post(path, data={**form, "csrf_token": op_csrf}).status_code == 403
    assert service.api().get("/admin").headers["location"] == "/login?next=/admin"

    store = service.store()
    try:
        assert store.get_user("nina") is None
        assert store.get_user("vera").role == "viewer"  # type: ignore[union-attr]
        assert store.get_user("otto") is not None
        assert all(t.revoked_at is None for t in store.list_tokens())
        assert not [t for t in store.list_tokens() if t.label == "csrf"]
    finally:
        store.close()
