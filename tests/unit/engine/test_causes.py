"""Causes: queue rows grouped by what they have in common (a pure function of the rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billbridge.domain import Money, RecordWords
from billbridge.engine.causes import cause_of, group_causes, needs_person
from billbridge.store.base import ExceptionKind, ExceptionRow

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
MAPPING = "/ws/mapping.yaml"


def row(
    ident: int,
    key: str,
    *,
    kind: ExceptionKind = "failed",
    field: str = "",
    error: str = "",
    hint: str = "",
    waiting_on: str = "",
    flow: str = "stripe-to-books",
    age_hours: int = 1,
    retryable: bool = False,
    next_try_at: datetime | None = None,
) -> ExceptionRow:
    return ExceptionRow(
        id=ident, flow=flow, record_key=key, version="v", kind=kind, error=error, at=T0,
        field=field, hint=hint, waiting_on=waiting_on, first_seen=T0 - timedelta(hours=age_hours),
        retryable=retryable, next_try_at=next_try_at,
    )  # fmt: skip


def tax_row(ident: int, invoice: str) -> ExceptionRow:
    key = f"stripe:invoice:{invoice}"
    return row(
        ident, key, field="tax_rates",
        error=f"tax rate 'txr_at_vat20' has no account in {MAPPING}",
        hint=f"add `txr_at_vat20: Liabilities:…` under `tax_rates:` in {MAPPING}, then "
        f"`billbridge replay {key}`",
    )  # fmt: skip


def currency_row(ident: int, invoice: str) -> ExceptionRow:
    return row(
        ident, f"stripe:invoice:{invoice}", field="currency",
        error="currency 'xyz' is not an ISO 4217 currency",
        hint="correct the currency in Stripe (or in the export) and replay",
    )  # fmt: skip


def total_row(ident: int, invoice: str) -> ExceptionRow:
    return row(
        ident, f"stripe:invoice:{invoice}", field="total",
        error=f"invoice {invoice}: lines sum to 39.69 USD but total is 40.69 USD",
        hint="the source invoice is inconsistent; correct it in the source system and replay",
    )  # fmt: skip


def held_on(ident: int, charge: str, invoice: str) -> ExceptionRow:
    return row(
        ident, f"stripe:charge:{charge}", kind="held",
        error=f"waiting for invoice {invoice}", waiting_on=f"stripe:invoice:{invoice}",
        hint="released automatically when it posts",
    )  # fmt: skip


def test_the_scenario_of_the_issue_is_three_causes_not_fifty_four_rows() -> None:
    rows = [tax_row(i, f"in_tax{i}") for i in range(50)]
    rows += [held_on(100 + i, f"ch_tax{i}", f"in_tax{i}") for i in range(50)]
    rows += [currency_row(200 + i, f"in_cur{i}") for i in range(3)]
    rows += [total_row(300, "in_total")]
    causes = group_causes(rows)
    assert [(c.cause, c.count, len(c.waiting)) for c in causes] == [
        ("tax-rate:txr_at_vat20", 50, 50),
        ("currency:xyz", 3, 0),
        ("total", 1, 0),
    ]
    tax = causes[0]
    assert {r.record_key for r in tax.rows} == {f"stripe:invoice:in_tax{i}" for i in range(50)}
    assert tax.problem == f"tax rate 'txr_at_vat20' has no account in {MAPPING}"
    # One fix for the whole cause: the per-record replay command becomes the cause's.
    assert tax.fix.endswith("then `billbridge replay --cause tax-rate:txr_at_vat20`")
    assert "in_tax0" not in tax.fix
    assert causes[2].problem.startswith("invoice in_total: lines sum to")
    assert causes[1].fix.endswith("then `billbridge replay --cause currency:xyz`")


def test_a_cause_sums_what_it_holds_back_per_currency_and_knows_its_age() -> None:
    rows = [tax_row(1, "in_a"), tax_row(2, "in_b"), tax_row(3, "in_c")]
    rows[2] = row(3, rows[2].record_key, field="tax_rates", error=rows[2].error, age_hours=30)
    words = {
        "stripe:invoice:in_a": RecordWords(kind="Invoice", amount=Money(Decimal("1190.00"), "EUR")),
        "stripe:invoice:in_b": RecordWords(kind="Invoice", amount=Money(Decimal("10.50"), "EUR")),
        "stripe:invoice:in_c": RecordWords(kind="Invoice", amount=Money(Decimal("500"), "JPY")),
    }
    (cause,) = group_causes(rows, words)
    assert cause.amounts() == {"EUR": Decimal("1200.50"), "JPY": Decimal("500")}
    assert cause.amounts_text() == "1,200.50 EUR, 500 JPY"
    assert cause.oldest == T0 - timedelta(hours=30)
    data = cause.as_json()
    assert set(data) >= {"cause", "problem", "count", "records", "amounts", "fix", "oldest"}
    assert data["amounts"] == {"EUR": "1200.50", "JPY": "500"}
    assert data["count"] == 3 and data["oldest"] == (T0 - timedelta(hours=30)).isoformat()


def test_the_missing_thing_splits_causes_of_one_problem_code() -> None:
    other = row(
        9, "stripe:invoice:in_z", field="tax_rates",
        error=f"tax rate 'txr_xx' has no account in {MAPPING}",
    )  # fmt: skip
    causes = group_causes([tax_row(1, "in_a"), other, currency_row(2, "in_b")])
    assert sorted(c.cause for c in causes) == [
        "currency:xyz", "tax-rate:txr_at_vat20", "tax-rate:txr_xx",
    ]  # fmt: skip


def test_cause_of_each_kind_of_row() -> None:
    product = row(
        1, "k:invoice:a", field="accounts.revenue",
        error="product 'prod_x' has no rule under `products`, and mapping.yaml has no "
        "`accounts.revenue`",
    )  # fmt: skip
    assert cause_of(product) == ("product:prod_x", "product")
    unapplied = row(2, "k:charge:b", field="accounts.unapplied", error="… no `accounts.unapplied`")
    assert cause_of(unapplied) == ("account:accounts.unapplied", "account")
    fx = row(3, "k:invoice:c", field="fx.rates", error="no exchange rate for USD/EUR on 2026-01-05")
    assert cause_of(fx) == ("fx-rate:USD/EUR", "fx-rate")
    line = row(4, "stripe:unknown:line-300", field="line", error="line 300: not JSON")
    assert cause_of(line) == ("unreadable-line", "unreadable-line")
    waits = row(5, "k:charge:d", kind="held", waiting_on="k:invoice:zz", error="waiting")
    assert cause_of(waits) == ("waiting:invoice", "waiting")
    drift = row(6, "k:invoice:e", kind="conflict", field="postings", error="differs")
    assert cause_of(drift) == ("entry-changed", "entry-changed")
    found = row(7, "k:invoice:f", kind="conflict", field="amount_mismatch", error="books differ")
    assert cause_of(found) == ("conflict:amount_mismatch", "conflict")
    missing = row(8, "k:invoice:g", field="currency", error="currency is missing")
    assert cause_of(missing) == ("currency:missing", "currency")


def test_a_held_record_whose_parent_is_not_queued_is_a_cause_of_its_own() -> None:
    (cause,) = group_causes([held_on(1, "ch_1", "in_never_seen"), held_on(2, "ch_2", "in_x")])
    assert (cause.cause, cause.count, cause.waiting) == ("waiting:invoice", 2, [])


def test_only_rows_a_person_must_act_on_need_a_person() -> None:
    later = T0 + timedelta(minutes=5)
    assert needs_person(tax_row(1, "in_a"))
    assert needs_person(row(2, "k:invoice:b", kind="conflict"))
    assert not needs_person(held_on(3, "ch", "in"))
    assert not needs_person(row(4, "k:invoice:c", retryable=True, next_try_at=later))
    assert needs_person(row(5, "k:invoice:d", retryable=True))  # out of tries
