"""Reconcile over the REST API: the same engine call as the CLI, audited with the user."""

from __future__ import annotations

import re

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
