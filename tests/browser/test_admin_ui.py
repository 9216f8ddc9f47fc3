"""An admin in a real browser: revoke a leaked token and change a role on the admin page.

The token stops working at once, the demoted user's role shows on the page, both
changes are in the audit page under the admin's name; and the last admin is refused
in plain words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import USERS, Service, password

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_admin_revokes_a_token_and_changes_a_role(
    browser: Any, service: Service, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(service.url + "/admin")
    assert page.url.startswith(service.url + "/login")
    page.get_by_label("User name").fill(USERS["admin"])
    page.get_by_label("Password").fill(password(USERS["admin"]))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(service.url + "/admin")

    page.get_by_label("For user").select_option("otto")
    page.get_by_label("Label").fill("leaked-laptop")
    page.get_by_label("Expires in (days)").fill("90")
    page.get_by_role("button", name="Create token").click()
    assert "Copy it now: it is not shown again." in page.get_by_role("status").inner_text()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("bb_")
    script = httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"})
    try:
        assert script.get("/api/queue").status_code == 200

        page.get_by_role("link", name="Back to users and tokens").click()
        assert token not in page.content()
        row = page.locator("#tokens tr", has_text="leaked-laptop")
        assert "active" in row.inner_text()
        row.get_by_role("button", name="Revoke").click()
        page.wait_for_url("**/admin?notice=revoked*")
        assert "its next request gets 401" in page.get_by_role("status").inner_text()
        row = page.locator("#tokens tr", has_text="leaked-laptop")
        assert "revoked" in row.inner_text()
        assert row.get_by_role("button", name="Revoke").count() == 0
        assert script.get("/api/queue").status_code == 401
    finally:
        script.close()

    otto = page.locator('tr[data-user="otto"]')
    otto.get_by_label("Role of otto").select_option("viewer")
    otto.get_by_role("button", name="Change role").click()
    page.wait_for_url("**/admin?notice=role*")
    assert "Changed the role of otto." in page.get_by_role("status").inner_text()
    assert "viewer" in page.locator('tr[data-user="otto"] td').nth(1).inner_text()
    page.screenshot(path=str(artifacts / "admin.png"), full_page=True)  # docs/ui-admin.png

    ada = page.locator('tr[data-user="ada"]')
    ada.get_by_label("Role of ada").select_option("operator")
    ada.get_by_role("button", name="Change role").click()
    assert "'ada' is the last admin" in page.get_by_role("alert").inner_text()
    assert "admin" in page.locator('tr[data-user="ada"] td').nth(1).inner_text()

    page.goto(service.url + "/audit?actor=ada")
    audit = page.locator("main").inner_text()
    assert "token-revoked" in audit
    assert "role-changed" in audit
    assert token not in page.content()
    context.close()
