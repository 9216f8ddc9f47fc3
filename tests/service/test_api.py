"""The REST API over a real server: the morning queue routine, secrets, health, runs."""

from __future__ import annotations

from .conftest import BACKENDS, BROKEN, Service

pytestmark = BACKENDS


def test_fix_and_replay_through_the_api_posts_the_record_once(service: Service) -> None:
    api = service.api("operator")
    queue = api.get("/api/queue").json()
    assert [(q["record"], q["field"]) for q in queue] == [(BROKEN, "tax_rates")]
    assert "txr_at_vat20" in queue[0]["error"]
    assert "mapping.yaml" in queue[0]["hint"]

    preview = api.post("/api/queue/replay", json={"keys": [BROKEN], "dry_run": True}).json()
    assert preview[0]["counts"]["failed"] == 1
    assert preview[0]["entries"] == []

    service.fix_mapping()
    preview = api.post("/api/queue/replay", json={"keys": [BROKEN], "dry_run": True}).json()
    (entry,) = preview[0]["entries"]
    assert "Liabilities:Tax:At-Vat20" in entry
    assert api.get("/api/queue").json()[0]["record"] == BROKEN, "a preview changes nothing"

    done = api.post("/api/queue/replay", json={"keys": [BROKEN]}).json()
    assert done[0]["counts"]["synced"] == 1
    assert api.get("/api/queue").json() == []
    again = api.post("/api/queue/replay", json={"keys": [BROKEN]}).json()
    assert again[0]["posted"] == 0, "a second replay posts nothing twice"

    ledger = (service.root / "books" / "billbridge.beancount").read_text()
    assert ledger.count(f'billbridge-key: "{BROKEN}"') == 1
    trace = api.get("/api/trace/DEMO-9999").json()
    assert trace["record"] == BROKEN
    assert [p["facet"] for p in trace["postings"] if p["record"] == BROKEN] == ["issue"]
    history = api.get(f"/api/records/{BROKEN}/history").json()
    assert [o["outcome"] for o in history["outcomes"]] == ["failed"]  # only failures are kept
    assert [p["facet"] for p in history["postings"]] == ["issue"]
    actors = {(a["actor"], a["action"]) for a in history["audit"]}
    assert ("token:otto", "replayed") in actors
    assert ("token:otto", "previewed") in actors


def test_dismiss_needs_a_reason_and_is_audited(service: Service) -> None:
    api = service.api("operator")
    (row,) = api.get("/api/queue").json()
    for blank in ("   ", "\u00a0", "\x1c\n"):  # any Unicode blank, as str.strip sees it
        refused = api.post(f"/api/queue/{row['id']}/dismiss", json={"reason": blank})
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]  # the documented HTTPValidationError shape
        assert problem["loc"] == ["body", "reason"]
        assert "say why the row is dismissed" in problem["msg"]
    assert api.post(f"/api/queue/{row['id']}/dismiss", json={"reason": "test invoice"}).is_success
    assert api.get("/api/queue").json() == []
    again = api.post(f"/api/queue/{row['id']}/dismiss", json={"reason": "twice"})
    assert again.status_code == 409
    (audit,) = api.get("/api/audit", params={"record": BROKEN, "actor": "token:otto"}).json()
    assert audit["action"] == "dismissed"
    assert audit["diff"]["resolution"] == ["", "test invoice"]


def test_connections_never_show_secrets(service: Service) -> None:
    config = service.root / "billbridge.yaml"
    config.write_text(
        config.read_text().replace("connections:\n", "connections:\n  live:\n"
        "    connector: stripe\n    api_key: sk_test_supersecret123\n", 1)
    )  # fmt: skip
    from billbridge.config import load_workspace
    from billbridge.service.app import create_app

    reloaded = load_workspace(service.root)
    assert reloaded.connections["live"].api_key is not None  # type: ignore[union-attr]
    import httpx

    app = create_app(reloaded)
    transport = httpx.ASGITransport(app=app)

    async def fetch() -> str:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get(
                "/api/connections", headers={"Authorization": f"Bearer {service.tokens['admin']}"}
            )
            assert answer.status_code == 200
            return answer.text

    import asyncio

    try:
        text = asyncio.run(fetch())
    finally:
        app.state.stores.close()  # no lifespan through ASGITransport: close the pool here
    assert "sk_test_supersecret123" not in text
    assert '"api_key_set":true' in text


def test_health_runs_and_verify(service: Service) -> None:
    assert service.api().get("/api/health").json()["status"] == "ok"
    api = service.api("viewer")
    runs = api.get("/api/runs").json()
    assert runs[0]["counts"]["failed"] == 1
    detail = api.get(f"/api/runs/{runs[0]['id']}").json()
    assert (detail["actor"], detail["rate_limit"]) == ("setup", None)  # an export counts nothing
    assert api.get("/api/runs/99999").status_code == 404
    assert api.get("/api/audit/verify").json()["ok"] is True
    before = api.get("/api/runs").json()
    started = service.api("operator").post("/api/runs", json={"dry_run": True}).json()
    assert started[0]["flow"] == "stripe-to-books"
    assert started[0]["posted"] == 0
    # A dry run writes nothing, not even a run: it takes no run number (issue 18).
    assert (started[0]["dry_run"], started[0]["run"]) == (True, 0)
    assert api.get("/api/runs").json() == before
    (audit,) = api.get("/api/audit", params={"actor": "token:otto"}).json()
    assert (audit["action"], audit["run_id"]) == ("run", None)
    assert audit["diff"]["dry_run"] == [None, True]
    unknown = service.api("operator").post("/api/runs", json={"flows": ["nope"]})
    assert unknown.status_code == 404
    assert "no flow 'nope'" in unknown.json()["detail"]


def test_admin_adds_users_and_tokens_and_they_work(service: Service) -> None:
    admin = service.api("admin")
    body = {"name": "newbie", "role": "viewer", "password": "a-long-password"}
    assert admin.post("/api/users", json=body).status_code == 201
    assert admin.post("/api/users", json=body).status_code == 409
    token = admin.post("/api/tokens", json={"user": "newbie"}).json()["token"]
    newbie = service.api(Authorization=f"Bearer {token}")
    assert newbie.get("/api/queue").status_code == 200
    assert newbie.post("/api/queue/replay", json={"keys": [BROKEN]}).status_code == 403
    store = service.store()
    try:
        user = store.get_user("newbie")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert store.user_for_token(token) is None, "the plain token is never stored"
    finally:
        store.close()


def test_a_locked_ledger_is_a_503_to_retry_not_a_crash(service: Service) -> None:
    from billbridge.connectors.beancount import BeancountTarget

    holder = BeancountTarget("books", service.root / "books" / "main.beancount")
    try:
        answer = service.api("operator").post("/api/queue/replay", json={"keys": [BROKEN]})
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert "billbridge.beancount" in answer.json()["detail"]
    finally:
        holder.close()
    assert service.api("operator").post("/api/queue/replay", json={"keys": [BROKEN]}).is_success


def test_queue_filters_and_retry_after_a_fix(service: Service) -> None:
    api = service.api("operator")
    assert len(api.get("/api/queue", params={"flow": "stripe-to-books"}).json()) == 1
    assert api.get("/api/queue", params={"flow": "other"}).json() == []
    assert len(api.get("/api/queue", params={"kind": "failed"}).json()) == 1
    assert api.get("/api/queue", params={"kind": "held"}).json() == []
    assert len(api.get("/api/queue", params={"older_than_hours": 0}).json()) == 1
    assert api.get("/api/queue", params={"older_than_hours": 1}).json() == []
    (row,) = api.get("/api/queue").json()
    assert (
        api.post("/api/queue/retry", json={"ids": [row["id"]]}).json()[0]["counts"]["failed"] == 1
    )
    assert api.get("/api/queue").json()[0]["attempts"] == 2
    service.fix_mapping()
    assert api.post("/api/queue/retry", json={}).json()[0]["counts"]["synced"] == 1
    assert api.get("/api/queue").json() == []
    actions = [a["action"] for a in api.get("/api/audit", params={"actor": "token:otto"}).json()]
    # the fixed file is a draft the sandbox runs: kept as a version, by whoever ran it first
    assert actions == ["retried", "failed", "mapping-draft", "retried", "posted"]


def test_a_run_shows_what_reading_cost_it(service: Service) -> None:
    from billbridge.store.base import RunFigures

    store = service.store()
    try:
        run = store.start_run(flow="stripe-to-books", kind="live", actor="tester")
        figures = RunFigures(
            requests=40, rate_limit_waits=3, rate_limit_wait_seconds=1.25, throttled=1
        )
        store.finish_run(run.id, counts={"synced": 2}, status="finished", figures=figures)
    finally:
        store.close()
    detail = service.api("viewer").get(f"/api/runs/{run.id}").json()
    assert detail["rate_limit"] == {
        "requests": 40,
        "rate_limit_waits": 3,
        "rate_limit_wait_seconds": 1.25,
        "throttled": 1,
    }
