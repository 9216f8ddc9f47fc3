"""Change control over the REST API: drafts, the semantic diff, tests, promotion, rollback,
and who may do each (issue 17), over the demo workspace (a sandbox ledger)."""

from __future__ import annotations

from .conftest import BACKENDS, BROKEN, Service

pytestmark = BACKENDS

FLOW = "stripe-to-books"


def _with_people(service: Service) -> None:
    store = service.store()
    try:
        from billbridge.identity import new_token

        for name, role in (("mia", "mapper"), ("abe", "approver")):
            store.add_user(name=name, role=role, password_hash="$argon2id$unused")  # type: ignore[arg-type]
            service.tokens[role] = new_token(store, user=name, label="tests")
    finally:
        store.close()


def test_a_draft_through_the_api_is_tested_promoted_and_rolled_back(service: Service) -> None:
    _with_people(service)
    viewer, operator = service.api("viewer"), service.api("operator")
    mapper, approver = service.api("mapper"), service.api("approver")
    versions = viewer.get(f"/api/mapping/{FLOW}/versions").json()
    base = versions["promoted"]
    assert [v["status"] for v in versions["versions"]] == ["promoted"]
    assert versions["production"] is False

    text = (
        (service.root / "mapping.yaml")
        .read_text()
        .replace("tax_rates:\n", "tax_rates:\n  txr_at_vat20: Liabilities:Tax:At-Vat20\n", 1)
    )
    assert operator.post(f"/api/mapping/{FLOW}/drafts", json={"content": text}).status_code == 403
    broken = text.replace("Liabilities:Tax:At-Vat20", "vat")
    bad = mapper.post(f"/api/mapping/{FLOW}/drafts", json={"content": broken})
    assert bad.status_code == 422 and "tax_rates" in bad.json()["detail"]
    made = mapper.post(f"/api/mapping/{FLOW}/drafts", json={"content": text, "comment": "AT VAT"})
    assert made.status_code == 200, made.text
    draft = made.json()["version"]
    assert made.json()["parent"] == base

    diff = viewer.get(f"/api/mapping/{FLOW}/diff", params={"new": draft}).json()
    assert [(c["section"], c["key"], c["kind"]) for c in diff["changes"]] == [
        ("tax_rates", "txr_at_vat20", "added")]  # fmt: skip
    assert viewer.post(f"/api/mapping/{FLOW}/tests", json={"draft": draft}).status_code == 403
    test = mapper.post(f"/api/mapping/{FLOW}/tests", json={"draft": draft}).json()
    assert (test["newly_posting"], test["changed"], test["newly_failing"]) == (1, 0, 0)
    assert [c["record"] for c in test["changes"]] == [BROKEN]
    kept = viewer.get(f"/api/mapping/{FLOW}/tests/{test['test']}").json()
    assert kept["changes"] == test["changes"] and kept["actor"] == "token:mia"

    assert mapper.post(f"/api/mapping/{FLOW}/promote", json={"version": draft}).status_code == 403
    unknown = approver.post(f"/api/mapping/{FLOW}/promote", json={"version": "abcdef"})
    assert unknown.status_code == 404
    done = approver.post(f"/api/mapping/{FLOW}/promote", json={"version": draft[:6]})
    assert done.status_code == 200, done.text
    assert (done.json()["promoted"], done.json()["author"]) == (draft, "mia")
    again = approver.post(f"/api/mapping/{FLOW}/promote", json={"version": draft})
    assert again.status_code == 409

    assert operator.post(f"/api/mapping/{FLOW}/rollback", json={}).status_code == 403
    back = approver.post(f"/api/mapping/{FLOW}/rollback", json={}).json()
    assert (back["promoted"], back["previous"]) == (base, draft)
    audit = viewer.get("/api/audit", params={"actor": "token:abe"}).json()
    assert [a["action"] for a in audit] == ["mapping-promoted", "mapping-rolled-back"]
    assert viewer.get("/api/mapping/nope/versions").status_code == 404


def test_approvals_need_an_approver(service: Service) -> None:
    _with_people(service)
    assert service.api("viewer").get("/api/approvals").json() == []
    for role in ("operator", "mapper"):
        answer = service.api(role).post(f"/api/approvals/{BROKEN}/approve")
        assert answer.status_code == 403, role
    answer = service.api("approver").post(f"/api/approvals/{BROKEN}/approve")
    assert answer.status_code == 404 and "not awaiting approval" in answer.json()["detail"]
    empty = service.api("approver").post(f"/api/approvals/{BROKEN}/reject", json={"reason": ""})
    assert empty.status_code == 422


def test_the_mapping_page_keeps_a_draft_typed_into_it(service: Service) -> None:
    client, csrf = service.browser_login("admin")
    page = client.get(f"/mapping/{FLOW}")
    assert "Propose a draft" in page.text and "txr_de_vat19" in page.text
    text = (service.root / "mapping.yaml").read_text()
    bad = client.post(f"/mapping/{FLOW}/draft", data={"csrf_token": csrf, "content": "x: ["})
    assert bad.status_code == 422 and "the draft is not YAML" in bad.text
    assert "x: [" in bad.text  # what was typed is kept on the page
    new = text.replace("tax_rates:\n", "tax_rates:\n  txr_at_vat20: Liabilities:Tax:At-Vat20\n")
    done = client.post(f"/mapping/{FLOW}/draft",
                       data={"csrf_token": csrf, "content": new, "comment": "AT VAT"})  # fmt: skip
    assert done.status_code == 303 and "notice=drafted" in done.headers["location"]
    versions = service.api("viewer").get(f"/api/mapping/{FLOW}/versions").json()["versions"]
    drafts = [v for v in versions if v["status"] == "draft"]
    assert [(d["author"], d["comment"]) for d in drafts] == [("ada", "AT VAT")]
