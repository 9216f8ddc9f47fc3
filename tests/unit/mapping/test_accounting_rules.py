"""The pure accounting rules: rates, conversion, tax precedence, routing, series, mapping errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billbridge.domain import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Money,
    Payment,
    Posting,
    Rate,
    RateTable,
    TaxAmount,
    convert_postings,
)
from billbridge.engine.numbers import series_of
from billbridge.formats.stripe import normalize
from billbridge.mapping.model import load_mapping
from billbridge.mapping.rules import Context, plan_entries
from billbridge.mapping.tax import Jurisdiction, find_tax_rule
from billbridge.yamlsource import ConfigError

BASE = """\
timezone: Europe/Berlin
accounts:
  receivable: Assets:Receivable
  clearing: Assets:Clearing
  fees: Expenses:Fees
  refunds: Income:Refunds
  bank: Assets:Bank
  revenue: Income:Sales
"""

FX = """\
currency: EUR
fx:
  rates:
    - {date: 2026-03-02, pair: USD/EUR, rate: "0.9000"}
    - {date: 2026-03-10, pair: USD/EUR, rate: "0.8500"}
  gain: Income:FX-Gain
  loss: Expenses:FX-Loss
"""


def _mapping(tmp_path: Path, text: str) -> object:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return load_mapping(path)


def _usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def _invoice(**over: object) -> Invoice:
    net = _usd("100.00")
    fields: dict[str, object] = {
        "id": "in_1",
        "number": "A-1",
        "customer": "cus_1",
        "customer_name": "Acme",
        "currency": "USD",
        "status": InvoiceStatus.OPEN,
        "created": datetime(2026, 3, 2, 9, tzinfo=UTC),
        "lines": (
            InvoiceLine(
                id="il_1",
                description="x",
                quantity=Decimal(1),
                amount=net,
                discount=Money.zero("USD"),
            ),
        ),
        "subtotal": net,
        "tax": Money.zero("USD"),
        "total": net,
        "amount_paid": Money.zero("USD"),
    }
    fields.update(over)
    return Invoice(**fields)  # type: ignore[arg-type]


def _ctx(record: str, invoice: Invoice | None = None) -> Context:
    return Context(
        flow="f", connection="stripe", record=record, version="v", invoice=lambda _id: invoice
    )


# ---------------------------------------------------------------- rates and conversion
def test_rate_table_uses_direct_inverse_and_max_age() -> None:
    table = RateTable(
        (
            Rate(day=date(2026, 3, 6), base="EUR", quote="USD", rate=Decimal("1.25")),
            Rate(day=date(2026, 3, 6), base="GBP", quote="EUR", rate=Decimal("1.17")),
        ),
        2,
    )
    assert table.rate(date(2026, 3, 6), "GBP", "EUR") == Decimal("1.17")
    assert table.rate(date(2026, 3, 6), "USD", "EUR") == Decimal("0.8")  # 1 / 1.25
    assert table.rate(date(2026, 3, 8), "GBP", "EUR") == Decimal("1.17")  # a weekend
    assert table.rate(date(2026, 3, 9), "GBP", "EUR") is None  # older than max_age
    assert table.rate(date(2026, 3, 5), "GBP", "EUR") is None  # before any rate
    assert table.rate(date(2026, 3, 5), "EUR", "EUR") == Decimal(1)


def test_conversion_keeps_every_cent_and_the_original() -> None:
    legs = [
        Posting(account="Assets:R", amount=_usd("100.00")),
        Posting(account="Income:A", amount=_usd("-33.33")),
        Posting(account="Income:B", amount=_usd("-33.33")),
        Posting(account="Income:C", amount=_usd("-33.34")),
    ]
    rate = Decimal("0.915")
    out, residue = convert_postings(legs, [rate] * 4, "EUR")
    assert residue == Money.zero("EUR")
    assert sum(p.amount.amount for p in out) == 0
    assert [p.original for p in out] == [p.amount for p in legs]
    assert out[0].amount == Money(amount=Decimal("91.50"), currency="EUR")


def test_two_rates_leave_the_exchange_difference() -> None:
    legs = [
        Posting(account="Assets:Cash", amount=_usd("100.00")),
        Posting(account="Assets:R", amount=_usd("-100.00")),
    ]
    _, residue = convert_postings(legs, [Decimal("0.85"), Decimal("0.90")], "EUR")
    assert residue == Money(amount=Decimal("-5.00"), currency="EUR")


def test_payment_at_a_lower_rate_posts_a_loss(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, BASE + FX)
    inv = _invoice()
    pay = Payment(
        id="ch_1",
        invoice="in_1",
        customer="cus_1",
        created=datetime(2026, 3, 10, 12, tzinfo=UTC),
        gross=_usd("100.00"),
        fee=_usd("2.00"),
        net=_usd("98.00"),
    )
    plan = plan_entries(pay, mapping, _ctx("stripe:charge:ch_1", inv))  # type: ignore[arg-type]
    assert plan.problems == ()
    legs = {p.account: p.amount.amount for p in plan.entries[0].entry.postings}
    assert legs == {
        "Assets:Clearing": Decimal("83.30"),
        "Expenses:Fees": Decimal("1.70"),
        "Assets:Receivable": Decimal("-90.00"),
        "Expenses:FX-Loss": Decimal("5.00"),
    }


def test_missing_rate_names_the_date_and_pair(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, BASE + FX)
    inv = _invoice(created=datetime(2026, 2, 27, 9, tzinfo=UTC))
    plan = plan_entries(inv, mapping, _ctx("stripe:invoice:in_1"))  # type: ignore[arg-type]
    assert plan.entries == ()
    (problem,) = plan.problems
    assert problem.field == "fx.rates"
    assert "USD/EUR" in problem.message and "2026-02-27" in problem.message
    assert "mapping.yaml" in problem.message


# ---------------------------------------------------------------- tax and entities
TAX = """\
tax_rules:
  - {country: DE, account: Liabilities:VAT:Country}
  - {tax_code: txcd_10000000, account: Liabilities:VAT:Code}
  - {country: US, region: CA, account: Liabilities:Tax:CA, report_code: CA}
  - {rate: txr_1, account: Liabilities:VAT:Rate, report_code: R}
  - {rate: txr_1, country: DE, account: Liabilities:VAT:Rate-DE, report_code: RDE}
  - {rate: txr_1, country: DE, account: Liabilities:VAT:Second}
"""


@pytest.mark.parametrize(
    ("rate", "code", "where", "account"),
    [
        ("txr_1", "", Jurisdiction(country="DE"), "Liabilities:VAT:Rate-DE"),  # rate + country
        ("txr_1", "", Jurisdiction(country="FR"), "Liabilities:VAT:Rate"),  # rate beats code
        ("txr_2", "txcd_10000000", Jurisdiction(country="DE"), "Liabilities:VAT:Code"),
        ("txr_2", "", Jurisdiction(country="DE"), "Liabilities:VAT:Country"),
        ("txr_2", "", Jurisdiction(country="US", region="CA"), "Liabilities:Tax:CA"),
        ("txr_2", "", Jurisdiction(country="US", region="NY"), None),
    ],
)
def test_tax_rule_precedence(
    tmp_path: Path, rate: str, code: str, where: Jurisdiction, account: str | None
) -> None:
    mapping = _mapping(tmp_path, BASE + TAX)
    rule = find_tax_rule(mapping, rate=rate, tax_code=code, where=where)  # type: ignore[arg-type]
    assert (rule.account if rule else None) == account


def test_reverse_charge_with_tax_charged_fails(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, BASE + TAX)
    tax = Money(amount=Decimal("19.00"), currency="EUR")
    net = Money(amount=Decimal("100.00"), currency="EUR")
    line = InvoiceLine(
        id="il",
        description="x",
        quantity=Decimal(1),
        amount=net,
        discount=Money.zero("EUR"),
        taxes=(TaxAmount(rate="txr_1", amount=tax),),
    )
    inv = _invoice(
        currency="EUR",
        lines=(line,),
        subtotal=net,
        tax=tax,
        total=net + tax,
        amount_paid=Money.zero("EUR"),
        tax_exempt="reverse",
        customer_country="DE",
    )
    plan = plan_entries(inv, mapping, _ctx("stripe:invoice:in_1"))  # type: ignore[arg-type]
    assert plan.entries == ()
    assert plan.problems[0].field == "tax"
    assert "reverse-charge" in plan.problems[0].message


def test_unrouted_record_lists_the_rules_tried(tmp_path: Path) -> None:
    text = BASE + "entities:\n  - {name: eu, match: {currency: [EUR]}}\n"
    text += "  - {name: uk, prefix: UK, match: {country: [GB], currency: [GBP]}}\n"
    mapping = _mapping(tmp_path, text)
    plan = plan_entries(_invoice(), mapping, _ctx("stripe:invoice:in_1"))  # type: ignore[arg-type]
    (problem,) = plan.problems
    assert problem.field == "entities"
    assert "eu: currency in ['EUR']" in problem.message
    assert "uk: country in ['GB'] and currency in ['GBP']" in problem.message.replace(
        "currency in ['GBP'] and country in ['GB']", "country in ['GB'] and currency in ['GBP']"
    )


def test_mapping_without_new_keys_keeps_its_version(tmp_path: Path) -> None:
    plain = _mapping(tmp_path, BASE)
    with_empty = _mapping(tmp_path, BASE + "tax_rules: []\nentities: []\n")
    assert plain.version == with_empty.version  # type: ignore[attr-defined]


# ---------------------------------------------------------------- mapping errors
def test_float_rate_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    text = BASE + FX.replace('rate: "0.8500"', "rate: 0.85")
    with pytest.raises(ConfigError) as caught:
        _mapping(tmp_path, text)
    message = str(caught.value)
    assert "mapping.yaml:" in message and "fx.rates.1.rate" in message and "quoted" in message


def test_bad_rates_file_row_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "rates.csv").write_text(
        "date,pair,rate\n2026-03-02,USD/EUR,0.9\n2026-03-03,USDEUR,1\n"
    )
    text = BASE + "currency: EUR\nfx: {file: rates.csv, gain: Income:G, loss: Expenses:L}\n"
    with pytest.raises(ConfigError) as caught:
        _mapping(tmp_path, text)
    assert "rates.csv:3" in str(caught.value) and "pair" in str(caught.value)


def test_rates_file_rows_are_used(tmp_path: Path) -> None:
    (tmp_path / "rates.csv").write_text("date,pair,rate\n2026-03-02,USD/EUR,0.9\n")
    text = BASE + "currency: EUR\nfx: {file: rates.csv, gain: Income:G, loss: Expenses:L}\n"
    mapping = _mapping(tmp_path, text)
    assert mapping.rate_table.rate(date(2026, 3, 2), "USD", "EUR") == Decimal("0.9")  # type: ignore[attr-defined]


def test_functional_currency_needs_fx(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _mapping(tmp_path, BASE + "currency: EUR\n")
    assert "fx" in str(caught.value)


# ---------------------------------------------------------------- invoice number series
@pytest.mark.parametrize(
    ("number", "series", "expected"),
    [
        ("HB-0042", "", ("HB-", 42)),
        ("ABCD1234-0007", "", ("ABCD1234-", 7)),
        ("2026/17", "", ("2026/", 17)),
        ("DRAFT", "", ("DRAFT", None)),
        ("0042", "own", ("own", 42)),
    ],
)
def test_series_of(number: str, series: str, expected: tuple[str, int | None]) -> None:
    assert series_of(number, series) == expected


@given(
    parts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=8),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=6),
)
def test_conversion_always_balances(parts: list[int], rate: Decimal) -> None:
    credits_ = [Posting(account="Income:X", amount=-Money.from_minor(p, "USD")) for p in parts]
    debit = Posting(account="Assets:R", amount=Money.from_minor(sum(parts), "USD"))
    out, residue = convert_postings([debit, *credits_], [rate] * (len(parts) + 1), "JPY")
    assert residue.is_zero()
    assert sum(p.amount.amount for p in out) == 0
    for leg, original in zip(out, [debit, *credits_], strict=True):
        exact = original.amount.amount * rate
        assert abs(leg.amount.amount - exact) <= len(parts) + 1  # never more than the residue


def test_void_reverses_at_the_issue_rate(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, BASE + FX)
    inv = _invoice(status=InvoiceStatus.VOID, voided_at=datetime(2026, 3, 10, 9, tzinfo=UTC))
    plan = plan_entries(inv, mapping, _ctx("stripe:invoice:in_1"))  # type: ignore[arg-type]
    issue, void = (p.entry for p in plan.entries)
    assert void.date == date(2026, 3, 10)
    assert [p.amount for p in void.postings] == [-p.amount for p in issue.postings]
    assert issue.postings[0].amount == Money(amount=Decimal("90.00"), currency="EUR")
    assert dict(issue.meta)["fx-rate"] == "2026-03-02 USD/EUR 0.9000"


@pytest.mark.parametrize(("vat", "flagged"), [("FR40303265045", True), ("FR00000000000", False)])
def test_eu_b2b_sale_from_a_vat_registered_entity_is_reverse_charge(
    tmp_path: Path, vat: str, flagged: bool
) -> None:
    text = BASE + "entities:\n  - {name: de, prefix: DE, country: DE}\n"
    mapping = _mapping(tmp_path, text)
    net = Money(amount=Decimal("100.00"), currency="EUR")
    line = InvoiceLine(
        id="il", description="x", quantity=Decimal(1), amount=net, discount=Money.zero("EUR")
    )
    inv = _invoice(
        currency="EUR", lines=(line,), subtotal=net, tax=Money.zero("EUR"), total=net,
        amount_paid=Money.zero("EUR"), customer_country="FR", customer_tax_id=vat,
    )  # fmt: skip
    plan = plan_entries(inv, mapping, _ctx("stripe:invoice:in_1"))  # type: ignore[arg-type]
    (entry,) = (p.entry for p in plan.entries)
    assert entry.entity == "de"
    assert ("reverse-charge", "TRUE") in entry.meta if flagged else "warning" in dict(entry.meta)
    assert [p.severity.value for p in plan.problems] == ([] if flagged else ["warning"])


def test_stripe_invoice_carries_region_exemption_and_tax_code() -> None:
    line = {
        "id": "il_1", "object": "line_item", "amount": 1000, "currency": "usd", "quantity": 1,
        "description": "x", "discount_amounts": [], "taxes": [],
        "price": {"id": "price_1", "product": {"id": "prod_1", "tax_code": "txcd_10103001"}},
    }  # fmt: skip
    raw = {
        "id": "in_1", "object": "invoice", "number": "A-1", "customer": "cus_1",
        "currency": "usd", "created": 1767600000, "status": "open", "subtotal": 1000,
        "total": 1000, "amount_paid": 0, "total_taxes": [],
        "lines": {"object": "list", "data": [line], "has_more": False},
        "customer_address": {"country": "US", "state": "CA"}, "customer_tax_exempt": "reverse",
    }  # fmt: skip
    inv = normalize(raw, record="stripe:invoice:in_1", resolve=lambda _o, _i: None).value
    assert isinstance(inv, Invoice)
    assert (inv.customer_region, inv.tax_exempt) == ("CA", "reverse")
    assert inv.lines[0].tax_code == "txcd_10103001"
