"""The web pages a viewer reads: queue filters, audit search and verify, runs, errors."""

from __future__ import annotations

from .conftest import BROKEN, Service


def test_queue_page_filters(service: Service) -> None:
    client, _ = service.browser_login("viewer")
    assert BROKEN in client.get("/queue").text
    assert BROKEN in client.get("/queue", params={"kind": "failed", "flow": "stripe-to-books"}).text
    assert BROKEN not in client.get("/queue", params={"kind": "held"}).text
    assert BROKEN not in client.get("/queue", params={"older_than_hours": "2"}).text
    page = client.get("/queue", params={"older_than_hours": "soon"})
    assert page.status_code == 200, "a bad number is ignored, not a crash"


def test_audit_page_searches_and_verifies(service: Service) -> None:
    client, _ = service.browser_login("viewer")
    page = client.get("/audit", params={"actor": "vera"}).text
    assert ">login<" in page
    assert ">setup<" not in page
    page = client.get("/audit", params={"record": BROKEN, "verify": "1"}).text
    assert "Audit chain verified" in page
    assert ">failed<" in page
    assert "No audit rows match." in client.get("/audit", params={"until": "2000-01-01"}).text
    assert ">login<" in client.get("/audit", params={"since": "2000-01-01"}).text
    bad = client.get("/audit", params={"since": "yesterday"}).text
    assert "from: &#39;yesterday&#39; is not a date (YYYY-MM-DD)" in bad


def test_runs_page_and_error_pages(service: Service) -> None:
    client, _ = service.browser_login("viewer")
    page = client.get("/runs").text
    assert '<svg id="outcome-chart"' in page
    assert "run 1: 1 failed" in page
    missing = client.get("/trace", params={"ref": "in_nothing"})
    assert "No record matches" in missing.text
    forbidden = client.post("/queue/dismiss", headers={"Accept": "text/html"}, data={})
    assert forbidden.status_code == 403
    assert "vera is a viewer; this needs operator" in forbidden.text


def test_a_write_back_row_offers_dismiss_not_replay(service: Service) -> None:
    """A failed write-back is not a flow's record: its hint names the command instead."""
    from datetime import UTC, datetime

    from billbridge.store.base import Batch, ExceptionRow

    key = "stripe:invoice:in_writeback_row"
    store = service.store()
    try:
        store.commit(
            Batch(
                exceptions=[
                    ExceptionRow(
                        flow="writeback:stripe:void", record_key=key, version="v", kind="failed",
                        error="Stripe POST /v1/invoices/in_writeback_row/void: Bad request",
                        at=datetime.now(UTC), hint="run `billbridge stripe void …` again",
                    )
                ]
            )
        )  # fmt: skip
    finally:
        store.close()
    client, _ = service.browser_login("operator")
    page = client.get("/queue").text
    row = page[page.index(f'<tr data-record="{key}">') :]
    row = row[: row.index("</tr>")]
    assert "Dismiss" in row
    assert "Preview replay" not in row
    assert "Retry" not in row
    broken = page[page.index(f'<tr data-record="{BROKEN}">') :]
    assert "Preview replay" in broken[: broken.index("</tr>")]


def test_a_run_whose_process_died_shows_crashed_on_the_runs_page(service: Service) -> None:
    """A run left `running` by a process that is gone (a real one, ended) is shown
    `crashed`, with why, on the Runs page and in `GET /api/runs` (issue 13)."""
    import subprocess
    import sys

    from billbridge.engine.liveness import this_host
    from billbridge.store import RunOwner

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(gone.stdout)
    store = service.store()
    try:
        owner = RunOwner(host=this_host(), pid=pid, token="killed")
        run = store.start_run(flow="stripe-to-books", kind="live", actor="cron", owner=owner)
    finally:
        store.close()
    client, _ = service.browser_login("viewer")
    page = client.get("/runs").text
    assert '<td class="status-crashed">crashed<br>' in page
    assert f"its process (pid {pid}) is gone" in page
    (shown,) = [r for r in service.api("viewer").get("/api/runs").json() if r["id"] == run.id]
    assert shown["status"] == "crashed" and f"pid {pid}" in shown["error"]
