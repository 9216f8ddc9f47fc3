"""Change control in a real browser, on a production workspace (issue 17).

An approver tests the draft on disk from the Mapping page: the test's page lists the
changed records entry by entry and the ledger's bytes do not move. Her own promotion is
refused in plain words (four-eyes); a second approver promotes from the same page, and
the flow runs the new version. Its screenshots are docs/ui-mapping*.png.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from billbridge.config import load_workspace
from billbridge.engine.run import sync_flow
from billbridge.service.app import create_app
from billbridge.service.auth import hash_password
from billbridge.wiring import flows, open_workspace_store
from billbridge.workspace_files import create_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FLOW = "stripe-to-books"
USERS = {"alice": "approver", "bob": "approver", "vera": "viewer"}
OLD, NEW = "txr_de_vat19: Liabilities:Tax:De-vat19", "txr_de_vat19: Liabilities:Tax:DE-19-New"


def _password(name: str) -> str:
    return f"{name}-password-123"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def production(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Path]]:
    """A demo workspace whose ledger is production, synced, with users, served on loopback."""
    if request.param == "postgres":
        monkeypatch.setenv("BILLBRIDGE_STATE", request.getfixturevalue("pg_url"))
    root = tmp_path / "ws"
    create_demo(root, invoices=12)
    config = root / "billbridge.yaml"
    config.write_text(config.read_text().replace("mode: sandbox", "mode: production"))
    ws = load_workspace(root)
    store = open_workspace_store(ws)
    try:
        with flows(ws, store=store, actor="setup") as lookup:
            sync_flow(lookup(FLOW), store, actor="setup")
        for name, role in USERS.items():
            store.add_user(name=name, role=role, password_hash=hash_password(_password(name)))  # type: ignore[arg-type]
    finally:
        store.close()
    mapping = root / "mapping.yaml"
    assert OLD in mapping.read_text()
    mapping.write_text(mapping.read_text().replace(OLD, NEW))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port,
                                           log_level="warning", ws="none"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("billbridge serve did not start within 15 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", root
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _ledger(root: Path) -> str:
    found = hashlib.sha256()
    for path in sorted((root / "books").iterdir()):
        found.update(path.read_bytes())
    return found.hexdigest()


def _login(browser: Any, url: str, name: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(url + "/mapping")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(_password(name))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/mapping/{FLOW}")
    return page


def test_an_approver_promotes_a_tested_draft_written_by_another(
    browser: Any, production: tuple[str, Path], artifacts: Path
) -> None:
    url, root = production
    before = _ledger(root)

    viewer = _login(browser, url, "vera")
    assert viewer.locator("#diff").count() == 1
    assert viewer.get_by_role("button", name="Test this draft on recorded data").count() == 0
    viewer.context.close()

    alice = _login(browser, url, "alice")
    promoted = alice.locator("#promoted").inner_text()
    draft = alice.locator("#file-draft").inner_text()
    diff = alice.locator("#diff").inner_text()
    assert "tax_rates.txr_de_vat19" in diff and "Liabilities:Tax:DE-19-New" in diff
    alice.screenshot(path=str(artifacts / "mapping.png"), full_page=True)  # docs/ui-mapping.png
    alice.get_by_role("button", name="Test this draft on recorded data").click()
    alice.wait_for_url(f"{url}/mapping/{FLOW}/tests/*")
    summary = alice.locator("#test-summary").inner_text()
    assert " changed" in summary and "0 newly failing" in summary
    records = alice.locator("h3.record").all_inner_texts()
    assert records and all("stripe:" in r for r in records)
    lines = alice.locator("table.lines").first.inner_text()
    assert "Liabilities:Tax:De-vat19" in lines and "Liabilities:Tax:DE-19-New" in lines
    assert _ledger(root) == before  # the test wrote nothing to the ledger
    test_url = alice.url
    alice.screenshot(path=str(artifacts / "mapping-test.png"), full_page=True)  # docs/ui-…
    alice.get_by_role("button", name=f"Promote {draft}").click()
    assert "alice wrote draft" in alice.get_by_role("alert").inner_text()
    assert alice.locator("#promoted").inner_text() == promoted
    alice.context.close()

    bob = _login(browser, url, "bob")
    bob.goto(test_url)
    bob.get_by_role("button", name=f"Promote {draft}").click()
    bob.wait_for_url(f"{url}/mapping/{FLOW}?notice=promoted*")
    assert f"Promoted mapping {draft}" in bob.get_by_role("status").inner_text()
    assert bob.locator("#promoted").inner_text() == draft
    row = bob.locator(f'tr[data-version="{draft}"]').inner_text()
    assert "promoted" in row and "promote by bob" in row and "alice" in row
    bob.context.close()

    store = open_workspace_store(load_workspace(root))
    try:
        assert store.promoted_mapping(FLOW) == draft
        rows = [r for r in store.audit_rows() if r.action == "mapping-promoted"]
        assert [(r.actor, r.mapping_version) for r in rows] == [("bob", draft)]
    finally:
        store.close()
