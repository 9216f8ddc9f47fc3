"""The web UI's Retry says what happened; a broken export line is read again (issue 13.8)."""

from __future__ import annotations

import orjson

from tests.reprs import page_text

from .conftest import Service


def _notice(page: str) -> str:
    start = page.index('role="status">') + len('role="status">')
    return page[start : page.index("</p>", start)]


def test_retry_of_an_unreadable_line_reads_it_again_and_says_so(service: Service) -> None:
    export = service.root / "exports" / "stripe.jsonl"
    good = orjson.dumps({"object": "customer", "id": "cus_late", "name": "Late Ltd"}) + b"\n"
    export.write_bytes(export.read_bytes() + b'{"object": "customer", "id": oops\n')
    number = export.read_bytes().count(b"\n")
    operator = service.api("operator")
    assert operator.post("/api/runs", json={}).status_code == 200
    key = f"stripe:unknown:line-{number}"
    (row,) = [r for r in operator.get("/api/queue").json() if r["record"] == key]
    assert row["words"]["text"] == f"Unreadable export line {number}"

    client, csrf = service.browser_login("operator")
    page = client.post(
        "/queue/retry", data={"row": str(row["id"]), "csrf_token": csrf}, follow_redirects=True
    )
    text = page.text
    assert _notice(text) == (
        f"Retried queue row {row['id']}: 1 record still in the queue (see why below)."
    )
    assert "not JSON" in page_text(text)

    export.write_bytes(export.read_bytes().rsplit(b"\n", 2)[0] + b"\n" + good)
    page = client.post(
        "/queue/retry", data={"row": str(row["id"]), "csrf_token": csrf}, follow_redirects=True
    )
    assert _notice(page.text) == f"Retried queue row {row['id']}: 1 record out of the queue."
    assert key not in {r["record"] for r in operator.get("/api/queue").json()}
    assert operator.get("/api/records/stripe:customer:cus_late").json()["data"]["name"] == (
        "Late Ltd"
    )
