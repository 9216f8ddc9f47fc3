"""The morning routine in a real browser: log in, read the queue, preview, fix, replay, trace.

And the other side of it: a viewer sees no action buttons, and posting the form by
hand (with a valid session and CSRF token) is refused with 403.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import BROKEN, USERS, Service, password

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _login(browser: Any, service: Service, role: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(service.url + "/queue")
    assert page.url.startswith(service.url + "/login")
    page.get_by_label("User name").fill(USERS[role])  # type: ignore[index]
    page.get_by_label("Password").fill(password(USERS[role]))  # type: ignore[index]
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(service.url + "/queue")
    return page


def test_operator_fixes_the_mapping_and_replays_the_record(
    browser: Any, service: Service, artifacts: Path
) -> None:
    page = _login(browser, service, "operator")
    row = page.locator(f'tr[data-record="{BROKEN}"]')
    assert row.count() == 1
    assert "tax rate 'txr_at_vat20' has no account" in row.inner_text()
    assert "tax_rates" in row.inner_text()
    assert "Fix: add `txr_at_vat20: Liabilities:" in row.inner_text()
    page.screenshot(path=str(artifacts / "queue.png"), full_page=True)

    row.get_by_role("button", name="Preview replay").click()
    assert "It would still fail" in page.inner_text("main")
    assert "txr_at_vat20" in page.inner_text("main")

    service.fix_mapping()
    page.goto(service.url + "/queue")
    page.locator(f'tr[data-record="{BROKEN}"]').get_by_role("button", name="Preview replay").click()
    entry = page.locator("pre.entry").inner_text()
    assert "Liabilities:Tax:At-Vat20" in entry
    assert f'billbridge-key: "{BROKEN}"' in entry
    page.screenshot(path=str(artifacts / "preview.png"), full_page=True)

    page.get_by_role("button", name="Replay now").click()
    page.wait_for_url("**/queue?notice=replayed*")
    assert f"Replayed {BROKEN}." in page.get_by_role("status").inner_text()
    assert page.locator(f'tr[data-record="{BROKEN}"]').count() == 0
    assert "The exception queue is empty." in page.inner_text("main")

    page.goto(service.url + "/trace?ref=DEMO-9999")
    timeline = page.locator("#timeline").inner_text()
    assert "replayed" in timeline
    assert USERS["operator"] in timeline
    assert page.locator("#timeline tr.event-posting").count() >= 1
    assert "Invoice DEMO-9999" in timeline
    page.screenshot(path=str(artifacts / "trace.png"), full_page=True)

    page.goto(service.url + "/runs")
    assert page.locator("#outcome-chart rect").count() >= 2
    page.screenshot(path=str(artifacts / "runs.png"), full_page=True)
    page.context.close()


def test_a_viewer_sees_no_actions_and_cannot_post_them(browser: Any, service: Service) -> None:
    page = _login(browser, service, "viewer")
    row = page.locator(f'tr[data-record="{BROKEN}"]')
    assert row.count() == 1
    assert page.get_by_role("button", name="Preview replay").count() == 0
    assert page.get_by_role("button", name="Dismiss").count() == 0
    assert page.get_by_role("button", name="Retry").count() == 0
    csrf = page.locator('header input[name="csrf_token"]').get_attribute("value")
    answer = page.context.request.post(
        service.url + "/queue/replay", form={"key": BROKEN, "csrf_token": csrf or ""}
    )
    assert answer.status == 403
    assert page.context.request.post(
        service.url + "/queue/dismiss", form={"row": "1", "reason": "x", "csrf_token": csrf or ""}
    ).status == 403
    page.reload()
    assert page.locator(f'tr[data-record="{BROKEN}"]').count() == 1, "still in the queue"
    page.context.close()
