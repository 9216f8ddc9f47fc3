"""The morning queue in chromium: three causes, one mapping fix, one replay of a cause.

The screenshots land in test-artifacts/browser/; docs/ui-causes.png, ui-cause-preview.png,
ui-trace.png (trace-words.png) and ui-audit.png are copies of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.scenario import CURRENCY_CAUSE, TAX_CAUSE, TOTAL_CAUSE, fix_mapping, make_scenario
from tests.service.conftest import Service

from .test_queue_ui import _login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def workspace_files() -> Callable[[Path], object]:
    return make_scenario


def _causes(page: Any) -> list[str]:
    return [str(c) for c in page.locator("#causes tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.cause)"
    )]  # fmt: skip


def test_one_fix_and_one_replay_of_a_cause_clear_fifty_invoices(
    browser: Any, service: Service, artifacts: Path
) -> None:
    page = _login(browser, service, "operator")
    assert _causes(page) == [TAX_CAUSE, CURRENCY_CAUSE, TOTAL_CAUSE]
    heading = page.locator("h1").inner_text()
    assert "118 open rows in 3 causes" in heading
    assert "about 32 min" in page.locator("#cleanup").inner_text()
    tax = page.locator(f'#causes tr[data-cause="{TAX_CAUSE}"]')
    assert tax.locator("td.count").inner_text().startswith("50")
    assert "Invoice BB-0000001" in tax.inner_text()  # records in words, not keys
    assert "EUR" in tax.inner_text()  # the money it holds back
    page.screenshot(path=str(artifacts / "causes.png"), full_page=False)

    tax.get_by_role("button", name="Preview replay of all 50").click()
    summary = page.locator("#preview-summary").inner_text()
    assert "0 of 50 would post" in summary and "50 would still fail" in summary
    assert page.locator("#would-fail tbody tr").count() == 50
    assert "tax rate 'txr_at_vat20' has no account" in page.locator("#would-fail").inner_text()
    assert page.get_by_role("button", name="Replay all 50 now").count() == 0

    fix_mapping(service.root)
    page.goto(service.url + "/queue")
    page.locator(f'#causes tr[data-cause="{TAX_CAUSE}"]').get_by_role(
        "button", name="Preview replay of all 50"
    ).click()
    summary = page.locator("#preview-summary").inner_text()
    assert "50 of 50 would post (50 journal entries); 0 would still fail" in summary
    assert page.locator("pre.entry").count() == 5
    assert "Liabilities:Tax:AT-VAT20" in page.locator("pre.entry").first.inner_text()
    page.screenshot(path=str(artifacts / "cause-preview.png"), full_page=False)

    page.get_by_role("button", name="Replay all 50 now").click()
    page.wait_for_url("**/queue?notice=cause-replayed*")
    notice = page.get_by_role("status").inner_text()
    assert notice == f"Replayed cause {TAX_CAUSE}: 50 records out of the queue."
    assert _causes(page) == [CURRENCY_CAUSE, TOTAL_CAUSE]
    assert "about 22 min" in page.locator("#cleanup").inner_text()
    page.screenshot(path=str(artifacts / "causes-after.png"), full_page=False)

    page.goto(service.url + "/trace?ref=BB-0000001")
    postings = page.locator("#postings").inner_text()
    assert "Liabilities:Tax:AT-VAT20" in postings and "billbridge.beancount, line" in postings
    records = page.locator("#timeline tbody tr td:nth-child(4)").all_inner_texts()
    assert records and all(r.startswith(("Invoice BB-0000001", "Payment for BB-0000001"))
                           for r in records)  # fmt: skip
    assert "replayed" in page.locator("#timeline").inner_text()
    page.screenshot(path=str(artifacts / "trace-words.png"), full_page=True)

    page.goto(service.url + "/audit")
    first = page.locator("#audit tbody tr").first.inner_text()
    assert "previewed" not in first or "otto" in first
    seqs = [int(s) for s in page.locator("#audit tbody tr td:first-child").all_inner_texts()]
    assert seqs == sorted(seqs, reverse=True)
    assert "[None" not in page.locator("#audit").inner_text()
    page.screenshot(path=str(artifacts / "audit.png"), full_page=False)
    page.context.close()
