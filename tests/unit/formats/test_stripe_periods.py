"""Invoice lines keep their service period (`period.start/end`) in both API shapes, as instants."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from billbridge.domain import Invoice

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
