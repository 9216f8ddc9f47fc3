"""Revoking tokens, removing users and changing roles over a real server, on both backends.

What a leaked token, a person who left or a changed job means for the next request:
401 (or the login page) at once, or the new role at once; each change is one audit row
and the hash chain still verifies.
"""

from __future__ import annotations

from .conftest import BACKENDS, BROKEN, Service

pytestmark = BACKENDS
PREVIEW = {"keys": [BROKEN], "dry_run": True}  # an operator action that changes nothing


def _audit(service: Service, actor: str) -> list[tuple[str, dict[str, object]]]:
    store = service.store()
    try:
        return [(r.action, dict(r.diff)) for r in store.search_audit(actor=actor)]
    finally:
        store.close()


def _verified(service: Service) -> bool:
    verdict = service.api("viewer").get("/api/audit/verify").json()
    return bool(verdict["ok"]) and verdict["rows"] > 0


def test_a_revoked_token_gets_401_on_its_next_request(service: Service) -> None:
    admin = service.api("admin")
    created = admin.post("/api/tokens", json={"user": "vera", "label": "leaked"})
    assert created.status_code == 201
    leaked = service.api(Authorization=f"Bearer {created.json()['token']}")
    assert leaked.get("/api/runs").status_code == 200

    tokens = admin.get("/api/tokens", params={"user": "vera"}).json()
    assert created.json()["token"] not in str(tokens), "the list never shows a token"
    assert all("hash" not in key for t in tokens for key in t)
    (row,) = [t for t in tokens if t["label"] == "leaked"]
    assert (row["status"], row["revoked_at"]) == ("active", None)
    assert row["last_used_at"] is not None, "its use was noted"

    revoked = admin.delete(f"/api/tokens/{row['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    answer = leaked.get("/api/runs")
    assert answer.status_code == 401
    assert "invalid or expired API token" in answer.json()["detail"]
    assert service.api("viewer").get("/api/runs").status_code == 200, "vera's other token works"

    assert admin.delete(f"/api/tokens/{row['id']}").json()["status"] == "revoked"
    missing = admin.delete("/api/tokens/424242")
    assert missing.status_code == 404
    assert "no API token 424242" in missing.json()["detail"]
    listed = {t["id"]: t["status"] for t in admin.get("/api/tokens").json()}
    assert listed[row["id"]] == "revoked"
    assert sorted(set(listed.values())) == ["active", "expired", "revoked"]

    revocations = [d for a, d in _audit(service, "token:ada") if a == "token-revoked"]
    assert revocations == [
        {"token": [row["id"], row["id"]], "user": ["vera", "vera"],
         "label": ["leaked", "leaked"], "revoked": [False, True]}
    ], "one row: revoking twice changes nothing"  # fmt: skip
    assert _verified(service)


def test_a_removed_users_session_and_tokens_stop_at_once(service: Service) -> None:
    browser, _csrf = service.browser_login("operator")
    token = service.api("operator")
    assert browser.get("/queue").status_code == 200
    assert token.post("/api/queue/replay", json=PREVIEW).status_code == 200  # audited

    removed = service.api("admin").delete("/api/users/otto")
    assert removed.status_code == 200
    assert removed.json() == {"removed": "otto", "role": "operator", "tokens": 1}

    page = browser.get("/queue")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
    assert browser.post("/api/queue/replay", json=PREVIEW).status_code == 401
    assert token.get("/api/queue").status_code == 401
    login = service.api().get("/login")
    assert login.status_code == 200
    users = [u["name"] for u in service.api("admin").get("/api/users").json()]
    assert "otto" not in users
    assert service.api("admin").get("/api/tokens", params={"user": "otto"}).json() == []
    again = service.api("admin").delete("/api/users/otto")
    assert again.status_code == 404

    assert ("previewed", "token:otto") in {
        (a["action"], a["actor"]) for a in service.api("viewer").get("/api/audit").json()
    }, "a removed user's audit rows stay"
    assert ("user-removed", {"user": ["otto", None], "role": ["operator", None],
            "tokens": [1, 0]}) in _audit(service, "token:ada")  # fmt: skip
    assert _verified(service)


def test_a_role_change_applies_to_open_sessions_and_tokens(service: Service) -> None:
    browser, csrf = service.browser_login("viewer")
    token = service.api("viewer")
    admin = service.api("admin")

    def may_preview() -> tuple[int, int]:
        by_session = browser.post("/api/queue/replay", json=PREVIEW, headers={"X-CSRF-Token": csrf})
        return by_session.status_code, token.post("/api/queue/replay", json=PREVIEW).status_code

    assert may_preview() == (403, 403)
    promoted = admin.patch("/api/users/vera", json={"role": "operator"})
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "operator"
    assert may_preview() == (200, 200)
    page = browser.get("/queue")
    assert "Preview replay" in page.text, "the open session shows operator actions"

    assert admin.patch("/api/users/vera", json={"role": "viewer"}).status_code == 200
    assert may_preview() == (403, 403)
    assert admin.patch("/api/users/vera", json={"role": "boss"}).status_code == 422
    assert admin.patch("/api/users/nobody", json={"role": "admin"}).status_code == 404
    changes = [d["role"] for a, d in _audit(service, "token:ada") if a == "role-changed"]
    assert changes == [["viewer", "operator"], ["operator", "viewer"]]
    assert _verified(service)


def test_the_last_admin_cannot_be_removed_or_demoted(service: Service) -> None:
    admin = service.api("admin")
    refused = admin.delete("/api/users/ada")
    assert refused.status_code == 409
    assert "'ada' is the last admin" in refused.json()["detail"]
    assert admin.patch("/api/users/ada", json={"role": "operator"}).status_code == 409
    assert admin.get("/api/users").status_code == 200, "ada is still admin"
    assert [a for a, _ in _audit(service, "token:ada")] == [], "a refusal writes nothing"

    assert admin.patch("/api/users/otto", json={"role": "admin"}).status_code == 200
    gone = admin.delete("/api/users/ada")  # an admin may remove themselves, if not the last
    assert gone.status_code == 200
    assert admin.get("/api/users").status_code == 401
    assert service.api("operator").delete("/api/users/otto").status_code == 409
    assert [a for a, _ in _audit(service, "token:ada")] == ["role-changed", "user-removed"]
    assert _verified(service)
