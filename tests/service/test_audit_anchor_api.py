"""The service anchors the audit chain after requests that change it, and its verify
(API and page) checks the chain against the anchors (issue 13, finding 10)."""

from __future__ import annotations

import sqlite3

import orjson

from .conftest import Service


def test_a_login_is_anchored_and_a_cut_is_reported(service: Service) -> None:
    anchors = service.root / ".billbridge" / "audit-anchors"
    assert not anchors.exists()  # the setup wrote rows without any command or request
    service.api("viewer").get("/api/queue")
    assert not anchors.exists()  # a read anchors nothing
    browser, _ = service.browser_login("viewer")  # audited: the answer anchors it
    store = service.store()
    try:
        head = store.audit_head()
        path = store.path  # type: ignore[attr-defined]
    finally:
        store.close()
    assert head is not None
    (line,) = [orjson.loads(x) for x in anchors.read_bytes().splitlines()]
    assert (line["seq"], line["hash"]) == (head.seq, head.hash)
    assert service.api("viewer").get("/api/audit/verify").json()["ok"] is True

    conn = sqlite3.connect(path, isolation_level=None)  # the attacker, around the store
    try:
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("DELETE FROM audit WHERE seq = ?", (head.seq,))
    finally:
        conn.close()
    verdict = service.api("viewer").get("/api/audit/verify").json()
    assert verdict["ok"] is False and verdict["missing"] == [head.seq, head.seq]
    assert f"rows {head.seq}-{head.seq} are missing" in verdict["problems"][0]
    page = browser.get("/audit", params={"verify": "1"}).text
    assert "Audit chain does not verify" in page and "are missing" in page
