"""Deferred revenue through the real CLI: annual plans recognized month by month, exactly once.

The export (tests/e2e/deferred_export.py) holds annual plans in EUR, JPY and KWD (0, 2 and
3 minor units), a monthly plan that is not deferred, and a credit note refunding half of
the EUR plan on 10 April 2025. Every amount below is the plan's net price times the days
of a month over the days of its year, rounded once per running total.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from billbridge.connectors import beancount, gnucash, sqlgl
from billbridge.samples import write_jsonl
from billbridge.workspace_files import create_workspace

from .conftest import Workspace, mapping_accounts, sandbox_ledger
from .deferred_export import DEFERRAL, annual_plans
from .ledgers import retarget
from .test_sync_flow import _bean_check

DEFERRED = "Liabilities:Deferred-Revenue"
GNUCASH = "    connector: gnucash\n    path: books/main.gnucash\n    currency: EUR"


def deferred_workspace(
    root: Path, state_url: str, *, records: list[dict[str, Any]] | None = None
) -> Workspace:
    products, rates = mapping_accounts()
    create_workspace(root, products=products, tax_rates=rates, timezone="Europe/Berlin")
    mapping = root / "mapping.yaml"
    mapping.write_text(mapping.read_text() + DEFERRAL)
    write_jsonl(root / "exports" / "stripe.jsonl", annual_plans() if records is None else records)
    return Workspace(root=root, state_url=state_url)


def recognition_keys(keys: Counter[str]) -> Counter[str]:
    return Counter({k: n for k, n in keys.items() if ":recognition:" in k})


def test_an_annual_plan_is_recognized_by_days_each_month_and_only_once(
    tmp_path: Path, state_url: str
) -> None:
    ws = deferred_workspace(tmp_path / "ws", state_url)
    code, run = ws.cli("sync")
    assert code == 0 and run["counts"]["failed"] == 0, run
    books = beancount.balances(ws.ledger)
    # 1,200.00 deferred; the credit note of 600.00 on 10 April takes 162.74 (99 of 365
    # days) back from revenue and 437.26 from the deferred balance
    assert books[DEFERRED, "EUR"] == Decimal("-762.74")
    assert books["Income:Sales:Pro", "EUR"] == Decimal("162.74")
    assert books["Income:Sales:Basic", "EUR"] == Decimal("-49.00")  # a month: not deferred

    code, january = ws.cli("recognize", "--through", "2025-01-31")
    assert code == 0 and january["posted"] == 1, january
    assert january["recognized"] == [
        {"entity": "default", "account": "Income:Sales:Pro", "currency": "EUR",
         "amount": "101.92"},  # 1200 * 31/365
    ]  # fmt: skip
    code, again = ws.cli("recognize", "--through", "2025-01-31")
    assert code == 0 and again["posted"] == 0 and again["counts"]["synced"] == 0
    before = ws.entries_file.read_bytes()
    code, dry = ws.cli("recognize", "--through", "2025-12-31", "--dry-run")
    assert code == 0 and dry["posted"] > 0 and ws.entries_file.read_bytes() == before

    code, year = ws.cli("recognize", "--through", "2025-12-31")
    assert code == 0, year
    assert {r["currency"]: r["amount"] for r in year["recognized"]} == {
        "EUR": "660.82",  # February to December, 1,098.08, less the credit note's 437.26
        "JPY": "320000",  # 365,000 over 15 Feb 2025 - 14 Feb 2026, through 31 Dec: 320 days
        "KWD": "838.356",  # 1,000.000 over 1 Mar 2025 - 28 Feb 2026: 306 days
    }
    books = beancount.balances(ws.ledger)
    assert books[DEFERRED, "EUR"] == 0
    assert books["Income:Sales:Pro", "EUR"] == Decimal("-600.00")  # the half not credited
    assert books[DEFERRED, "JPY"] == Decimal(-45_000)  # 45 days of 2026 left
    assert books[DEFERRED, "KWD"] == Decimal("-161.644")  # 59 of 365 days left
    assert subprocess.run([_bean_check(), str(ws.ledger)], check=False).returncode == 0

    keys = recognition_keys(beancount.posted_keys(ws.ledger))
    assert set(keys.values()) == {1}
    eur = sorted(k for k in keys if k.endswith(tuple(f"2025-{m:02d}" for m in range(1, 13))) and
                 "in_annual_eur|issue" in k)  # fmt: skip
    assert len(eur) == 12  # one entry per month of the plan

    code, report = ws.cli("reconcile")
    assert code == 0, report
    [flow] = report["flows"]
    assert flow["discrepancies"] == []
    assert flow["deferred"]["ok"] and flow["deferred"]["recognized_through"] == "2025-12-31"
    code, check = ws.cli("books", "check")
    assert code == 0 and check["ok"], check
    page = tmp_path / "daily.html"
    code, daily = ws.cli("report", "daily", "--html", str(page))
    assert "Deferred revenue against the schedules" in page.read_text()
    rows = daily["deferred"]["stripe-to-books"]["balances"]
    assert {(r["currency"], r["books"], r["schedules"]) for r in rows} == {
        ("EUR", "0.00", "0.00"),
        ("JPY", "-45000", "-45000"),
        ("KWD", "-161.644", "-161.644"),
    }


def test_recognize_refuses_a_date_in_the_future_and_a_date_that_is_not_one(
    tmp_path: Path,
) -> None:
    ws = deferred_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}")
    ws.cli("sync")
    code, out = ws.cli("recognize", "--through", "2999-01-31")
    assert code == 2 and "after today" in out["error"]
    code, out = ws.cli("recognize", "--through", "31.01.2025")
    assert code == 2 and "not a date" in out["error"]
    assert not recognition_keys(beancount.posted_keys(ws.ledger))


def test_a_credit_note_synced_after_recognition_is_due_then_posted(tmp_path: Path) -> None:
    records = annual_plans()
    before_credit = [r for r in records if not str(r["id"]).startswith(("cn_", "re_", "txn_re"))]
    ws = deferred_workspace(
        tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}", records=before_credit
    )
    ws.cli("sync")
    code, _ = ws.cli("recognize", "--through", "2025-06-30")
    assert code == 0
    write_jsonl(ws.export, records)  # the credit note of 10 April arrives in July
    code, _ = ws.cli("sync")
    assert code == 0
    code, report = ws.cli("reconcile")
    assert code == 0  # reported only: the next recognition posts it
    [due] = report["flows"][0]["discrepancies"]
    assert (due["kind"], due["record_key"], due["fix"]) == (
        "recognition_due",
        "stripe:recognition:in_annual_eur",
        "none",
    )
    assert "recognize --through 2025-06-30" in due["hint"]
    code, run = ws.cli("recognize", "--through", "2025-06-30")
    assert code == 0 and run["posted"] == 3  # the credit note's April, May and June
    code, report = ws.cli("reconcile")
    assert report["flows"][0]["discrepancies"] == [] and report["flows"][0]["deferred"]["ok"]


def test_an_edited_recognition_entry_is_found_by_reconcile(tmp_path: Path) -> None:
    ws = deferred_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}")
    ws.cli("sync")
    ws.cli("recognize", "--through", "2025-03-31")
    text = ws.entries_file.read_text()
    edited = text.replace(
        "Income:Sales:Pro                101.92 EUR", "Income:Sales:Pro  -1.92 EUR"
    )
    edited = edited.replace("Liabilities:Deferred-Revenue    101.92 EUR", DEFERRED + "  1.92 EUR")
    assert edited != text
    ws.entries_file.write_text(edited)
    code, report = ws.cli("reconcile")
    kinds = {(d["kind"], d["record_key"]) for d in report["flows"][0]["discrepancies"]}
    assert ("amount_mismatch", "stripe:recognition:in_annual_eur") in kinds
    assert ("deferred_mismatch", "stripe:recognition:in_annual_eur") in kinds
    assert code == 1


@pytest.mark.parametrize("gl", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_same_deferred_balances_on_beancount_gnucash_and_the_sql_ledger(
    tmp_path: Path, gl: str, request: pytest.FixtureRequest
) -> None:
    pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
    state = tmp_path / "state"
    state.mkdir()
    gl_url = (
        "sqlite:///books/ledger.db" if gl == "sqlite" else str(request.getfixturevalue("pg_url"))
    )
    bean = deferred_workspace(tmp_path / "bean", f"sqlite:///{state / 'bean.db'}")
    gnc = retarget(deferred_workspace(tmp_path / "gnc", f"sqlite:///{state / 'gnc.db'}"), GNUCASH)
    sql = retarget(
        deferred_workspace(tmp_path / "gl", f"sqlite:///{state / 'gl.db'}"),
        f"    connector: sqlgl\n    url: {gl_url}",
    )
    for ws in (bean, gnc, sql):
        assert ws.cli("sync")[0] == 0
        code, run = ws.cli("recognize", "--through", "2025-09-30")
        # EUR January-September 9 and the credit note's April-September 6, JPY 8, KWD 7
        assert code == 0 and run["posted"] == 30, run
        assert ws.cli("recognize", "--through", "2025-09-30")[1]["posted"] == 0
    sql_url = gl_url if gl == "postgres" else f"sqlite:///{sql.root}/books/ledger.db"
    in_bean = {k: v for k, v in beancount.balances(bean.ledger).items() if v}
    in_gnc = {k: v for k, v in gnucash.balances(gnc.root / "books" / "main.gnucash").items() if v}
    in_sql = {k: v for k, v in sqlgl.balances(sql_url).items() if v}
    assert in_gnc == in_bean and in_sql == in_bean
    # 92 of 365 days left: -1200 + 897.53 (issue) + 600 - 448.77 (the credit note)
    assert in_bean[DEFERRED, "EUR"] == Decimal("-151.24")
    assert in_bean[DEFERRED, "JPY"] == Decimal(-137_000)  # 137 days from 1 October
    assert in_bean[DEFERRED, "KWD"] == Decimal("-413.699")  # 151 days from 1 October
    keys = {
        "beancount": recognition_keys(beancount.posted_keys(bean.ledger)),
        "gnucash": recognition_keys(gnucash.posted_keys(gnc.root / "books" / "main.gnucash")),
        "sqlgl": recognition_keys(sqlgl.posted_keys(sql_url)),
    }
    assert keys["beancount"] == keys["gnucash"] == keys["sqlgl"]
    assert set(keys["beancount"].values()) == {1}
    for ws in (bean, gnc, sql):
        code, report = ws.cli("reconcile")
        assert code == 0 and report["flows"][0]["discrepancies"] == [], report
        assert report["flows"][0]["deferred"]["ok"]


def test_the_worker_recognizes_each_month_once_it_is_over(tmp_path: Path) -> None:
    ws = deferred_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}")
    config = ws.root / "billbridge.yaml"
    config.write_text(
        config.read_text().replace(
            "    mapping: mapping.yaml", "    mapping: mapping.yaml\n    recognize: monthly"
        )
    )
    assert ws.cli("sync")[0] == 0
    done = ws.subprocess("worker", "--once", "--json")
    assert done.returncode == 0, done.stderr
    (job,) = orjson.loads(done.stdout)["jobs"]
    assert (job["job"], job["flow"]) == ("recognize", "stripe-to-books")
    assert job["counts"]["synced"] == 3
    code, report = ws.cli("reconcile")
    assert code == 0
    through = date.fromisoformat(report["flows"][0]["deferred"]["recognized_through"])
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    assert through == today.replace(day=1) - timedelta(days=1)  # the last month that is over
    assert report["flows"][0]["deferred"]["ok"]
    # every plan in the export ended by then: nothing is left deferred
    assert beancount.balances(ws.ledger).get((DEFERRED, "JPY"), 0) == 0
    again = ws.subprocess("worker", "--once", "--json")
    assert orjson.loads(again.stdout) == {"jobs": []}  # this month is not over yet


def test_a_mapping_changed_under_a_posted_invoice_stops_its_recognition_out_loud(
    tmp_path: Path,
) -> None:
    """The mapping that posted an invoice's documents and first pieces recognizes all of
    it: a change that would post them differently stops that invoice only, with a reason."""
    ws = deferred_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'state.db'}")
    sandbox_ledger(ws.root)  # an edited mapping runs at once
    ws.cli("sync")
    assert ws.cli("recognize", "--through", "2025-03-31")[0] == 0
    mapping = ws.root / "mapping.yaml"
    original = mapping.read_text()
    renamed = original.replace("prod_pro: Income:Sales:Pro\n", "prod_pro: Income:Pro\n")
    renamed = renamed.replace("prod_support: Income:Sales:Support\n", "prod_support: Income:Sup\n")
    assert renamed.count("Income:Pro") == renamed.count("Income:Sup") == 1
    mapping.write_text(renamed)
    code, run = ws.cli("recognize", "--through", "2025-06-30")
    assert code == 1
    counts = run["counts"]
    assert (counts["failed"], counts["conflict"], counts["synced"]) == (1, 1, 1), run  # KWD goes on
    code, queue = ws.cli("queue")
    rows = {row["record"]: row for row in queue}
    failed = rows["stripe:recognition:in_annual_eur"]  # its credit note's entry would change
    assert failed["field"] == "deferral" and "cn_annual_eur" in failed["error"]
    assert (
        "the mapping changed since" in failed["error"] and "restore the mapping" in failed["hint"]
    )
    conflict = rows["stripe:recognition:in_annual_jpy"]  # its posted pieces would change
    assert conflict["kind"] == "conflict" and "never edits a posting" in conflict["error"]
    code, refused = ws.cli("retry", str(failed["id"]))
    assert code == 2 and "billbridge recognize --through" in refused["error"]
    mapping.write_text(original)
    code, run = ws.cli("recognize", "--through", "2025-06-30")
    assert code == 0 and run["counts"]["synced"] == 2, run
    assert ws.cli("queue")[1] == []
