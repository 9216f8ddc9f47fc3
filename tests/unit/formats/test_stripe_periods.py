"""Invoice lines keep their service period (`period.start/end`) in both API shapes, as instants."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billbridge.domain import Invoice
from billbridge.mapping.model import load_mapping
from billbridge.mapping.rules import Context, plan_entries

from .test_stripe import FIXTURES, current_invoice, ls_invoice, only_problem, run


def _lines(data: dict[str, object]) -> dict[str, tuple[datetime | None, datetime | None]]:
    n = run(data)
    assert n.problems == (), n.problems
    assert isinstance(n.value, Invoice)
    return {line.id: (line.period_start, line.period_end) for line in n.value.lines}


def test_localstripe_lines_carry_their_period() -> None:
    periods = _lines(ls_invoice())
    start, end = periods["il_a"]
    assert start == datetime.fromtimestamp(1_700_000_000, UTC)
    assert end == datetime.fromtimestamp(1_702_592_000, UTC)
    assert end is not None and end.tzinfo is UTC  # an instant: the mapping takes its zone's day
    assert periods["il_b"][0] == periods["il_b"][1]  # a one-off item: no service to spread


def test_current_lines_carry_their_period() -> None:
    data = current_invoice()
    data["lines"]["data"][0]["period"] = {"start": 1_767_222_000, "end": 1_798_758_000}
    periods = _lines(data)
    assert periods["il_1"] == (
        datetime(2025, 12, 31, 23, tzinfo=UTC),  # 2026-01-01 00:00 in Berlin
        datetime(2026, 12, 31, 23, tzinfo=UTC),
    )
    assert periods["il_2"] == (None, None)  # no period: never deferred


def test_the_fixture_line_item_has_a_period_of_the_current_shape() -> None:
    line = json.loads(FIXTURES.read_text())["resources"]["line_item"]
    assert set(line["period"]) == {"start", "end"}
    data = current_invoice()
    data["lines"]["data"][0]["period"] = line["period"]
    start, end = _lines(data)["il_1"]
    assert start == end == datetime.fromtimestamp(line["period"]["start"], UTC)


def test_an_unreadable_period_names_the_field() -> None:
    data = current_invoice()
    data["lines"]["data"][0]["period"] = {"start": "yesterday", "end": 1_798_758_000}
    assert "period.start" in only_problem(run(data), "lines[il_1].period.start")


MAPPING = """\
timezone: Europe/Berlin
accounts:
  receivable: Assets:Receivable
  clearing: Assets:Clearing
  fees: Expenses:Fees
  refunds: Income:Refunds
  bank: Assets:Bank
  revenue: Income:Sales
tax_rates:
  "tax_percent:19.0": Liabilities:VAT
  txr_de: Liabilities:VAT
  txr_de_incl: Liabilities:VAT
deferral: {account: Liabilities:Deferred-Revenue, min_days: 32}
"""


@pytest.mark.parametrize("shape", ["2017-08-15", "current"])
def test_a_yearly_line_of_either_shape_is_deferred(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING)
    mapping = load_mapping(path)
    year = {"start": 1_767_222_000, "end": 1_798_758_000}  # 2026 in Berlin
    if shape == "2017-08-15":
        data = ls_invoice()
        line_id = "il_a"
    else:
        data = current_invoice()
        line_id = "il_1"
    line = next(li for li in data["lines"]["data"] if li["id"] == line_id)
    line["period"] = year
    n = run(data)
    assert isinstance(n.value, Invoice), n.problems
    ctx = Context(flow="f", connection="stripe", record=f"stripe:invoice:{data['id']}", version="v")
    plan = plan_entries(n.value, mapping, ctx)
    assert all(p.severity.value == "warning" for p in plan.problems)  # a doubtful VAT id
    issue = plan.entries[0].entry
    deferred = [p for p in issue.postings if p.account == "Liabilities:Deferred-Revenue"]
    assert [dict(p.meta)["deferred-line"] for p in deferred] == [line_id]
    assert dict(deferred[0].meta)["service"] == "2026-01-01..2026-12-31"
