"""Zero-total invoices in the posting rules (issue 14, finding 1), without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from billbridge.domain import Invoice, InvoiceLine, InvoiceStatus, Money
from billbridge.mapping.model import Mapping, load_mapping
from billbridge.mapping.rules import Context, plan_entries

BASE = """\
timezone: Europe/Berlin
accounts:
  receivable: Assets:Receivable
  clearing: Assets:Clearing
  fees: Expenses:Fees
  refunds: Income:Refunds
  bank: Assets:Bank
  revenue: Income:Sales
  discounts: Expenses:Discounts
"""


def _mapping(tmp_path: Path, extra: str = "") -> Mapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(BASE + extra)
    return load_mapping(path)


def _eur(minor: int) -> Money:
    return Money.from_minor(minor, "EUR")


def _coupon(status: InvoiceStatus = InvoiceStatus.PAID) -> Invoice:
    moment = datetime(2026, 3, 2, 9, tzinfo=UTC)
    return Invoice(
        id="in_z", number="Z-1", customer="cus_1", customer_name="Acme", currency="EUR",
        status=status, created=moment, finalized_at=moment,
        voided_at=moment if status is InvoiceStatus.VOID else None,
        lines=(InvoiceLine(id="il_1", description="Pro", quantity=Decimal(1), amount=_eur(4900),
                           discount=_eur(4900)),),
        subtotal=_eur(4900), tax=_eur(0), total=_eur(0), amount_paid=_eur(0),
    )  # fmt: skip


def _ctx() -> Context:
    return Context(flow="f", connection="stripe", record="stripe:invoice:in_z", version="v")


def test_a_zero_invoice_plans_no_entry_and_no_problem(tmp_path: Path) -> None:
    plan = plan_entries(_coupon(), _mapping(tmp_path), _ctx())
    assert plan.entries == () and plan.problems == () and plan.requires == ()
    void = plan_entries(_coupon(InvoiceStatus.VOID), _mapping(tmp_path), _ctx())
    assert void.entries == () and void.problems == ()


def test_memo_keeps_every_leg_at_a_plain_zero(tmp_path: Path) -> None:
    plan = plan_entries(
        _coupon(InvoiceStatus.VOID), _mapping(tmp_path, "zero_invoices: memo\n"), _ctx()
    )
    assert [p.facet for p in plan.entries] == ["issue", "void"]
    for item in plan.entries:
        amounts = [p.amount.amount for p in item.entry.postings]
        assert amounts and all(a == 0 and not a.is_signed() for a in amounts)  # no -0.00


def test_a_separately_posted_full_discount_is_not_a_zero_entry(tmp_path: Path) -> None:
    plan = plan_entries(_coupon(), _mapping(tmp_path, "discounts: separate\n"), _ctx())
    [item] = plan.entries
    legs = {p.account: p.amount.amount for p in item.entry.postings}
    assert legs == {"Expenses:Discounts": Decimal("49.00"), "Income:Sales": Decimal("-49.00")}


def test_the_default_keeps_the_version_of_a_mapping_written_before_the_key(
    tmp_path: Path,
) -> None:
    before = _mapping(tmp_path).version
    assert _mapping(tmp_path, "zero_invoices: skip\n").version == before
    assert _mapping(tmp_path, "zero_invoices: memo\n").version != before
