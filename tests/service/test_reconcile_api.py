"""Reconcile over the REST API: the same engine call as the CLI, audited with the user."""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson

from .conftest import BACKENDS, Service

pytestmark = BACKENDS


def _pasted_twice(service: Service) -> str:
    """Paste one posted payment block into the main ledger, as a person might by mistake."""
    entries = (service.root / "books" / "billbridge.beancount").read_text()
    idem = next(
        m for m in re.findall(r'billbridge-idem: "([^"]+)"', entries) if m.endswith("|payment")
    )
    start = entries.index(f'billbridge-idem: "{idem}"')
    block = entries[entries.rindex("\n\n", 0, start) + 2 : entries.index("\n\n", start) + 2]
    with (service.root / "books" / "main.beancount").open("a") as main:
        main.write("\n" + block)
    return idem


def test_reconcile_finds_a_duplicate_and_fix_reverses_it(service: Service) -> None:
    api = service.api("operator")
    clean = api.post("/api/reconcile", json={}).json()
    assert clean["unowned"] == 0

    idem = _pasted_twice(service)
    found = api.post("/api/reconcile", json={}).json()
    kinds = {(d["kind"], d["idempotency_key"]) for f in found["flows"] for d in f["discrepancies"]}
    assert ("duplicate_posting", idem) in kinds
    listed = service.api("viewer").get("/api/discrepancies").json()
    assert ("duplicate_posting", idem) in {(d["kind"], d["idempotency_key"]) for d in listed}

    fixed = api.post("/api/reconcile", json={"fix": True}).json()
    assert fixed["unowned"] == 0
    after = api.post("/api/reconcile", json={}).json()
    kinds = {(d["kind"], d["idempotency_key"]) for f in after["flows"] for d in f["discrepancies"]}
    assert ("duplicate_posting", idem) not in kinds

    actors = {
        (row["actor"], row["action"])
        for row in service.api("viewer").get("/api/audit", params={"actor": "token:otto"}).json()
    }
    assert ("token:otto", "reconcile-fix") in actors


def test_a_viewer_cannot_reconcile(service: Service) -> None:
    assert service.api("viewer").post("/api/reconcile", json={"fix": True}).status_code == 403


def test_number_findings_show_in_the_api_discrepancies_and_metrics(service: Service) -> None:
    """Exported after the last sync: a series with a gap, and an invoice repeating a number."""
    export = service.root / "exports" / "stripe.jsonl"
    records = [orjson.loads(line) for line in export.read_bytes().splitlines() if line.strip()]
    paid = next(r for r in records if r["object"] == "invoice" and r["status"] == "paid")

    def copy_as(ident: str, number: str) -> dict[str, Any]:
        new = copy.deepcopy(paid)
        new["id"], new["number"], new["status"] = ident, number, "open"
        new["amount_paid"], new["amount_remaining"] = 0, new["total"]
        for line in new["lines"]["data"]:
            line["invoice"] = ident
        return new

    extra = [copy_as("in_gap_1", "GAP-01"), copy_as("in_gap_3", "GAP-03")]
    extra.append(copy_as("in_again", paid["number"]))
    export.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [*records, *extra]))

    api = service.api("operator")
    found = api.post("/api/reconcile", json={}).json()
    assert found["counts"]["number_gap"] == found["counts"]["number_duplicate"] == 1
    listed = {d["kind"]: d for d in service.api("viewer").get("/api/discrepancies").json()}
    assert listed["number_gap"]["fix"] == "none"
    assert listed["number_gap"]["record_key"] == "stripe:invoice:in_gap_3"
    assert listed["number_duplicate"]["fix"] == "queue"
    assert f"stripe:invoice:{paid['id']}" in listed["number_duplicate"]["detail"]
    metrics = service.api("viewer").get("/metrics").text
    for kind in ("number_gap", "number_duplicate"):
        sample = rf'billbridge_discrepancies_open\{{[^}}]*kind="{kind}"[^}}]*\}} 1'
        assert re.search(sample, metrics)

    fixed = api.post("/api/reconcile", json={"fix": True}).json()
    assert "stripe:invoice:in_again" in fixed["flows"][0]["fixes"]["queued"]
    listed = {d["kind"]: d for d in service.api("viewer").get("/api/discrepancies").json()}
    assert set(listed) >= {"number_gap", "number_duplicate"}
