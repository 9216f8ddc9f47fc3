"""Prepayments, their application and settlement currencies in the posting rules (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from billbridge.domain import Invoice, InvoiceLine, InvoiceStatus, Money, Payment
from billbridge.mapping.model import Mapping, load_mapping
from billbridge.mapping.rules import Context, plan_entries

BASE = """\
timezone: UTC
accounts:
  receivable: Assets:Receivable
  clearing: Assets:Clearing
  fees: Expenses:Fees
  refunds: Income:Refunds
  bank: Assets:Bank
  revenue: Income:Sales
  unapplied: Liabilities:Prepayments
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


def _mapping(tmp_path: Path, text: str) -> Mapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return load_mapping(path)


def _usd(minor: int) -> Money:
    return Money.from_minor(minor, "USD")


INVOICE = Invoice(
    id="in_1", number="A-1", customer="cus_1", customer_name="Acme", currency="USD",
    status=InvoiceStatus.PAID, created=datetime(2026, 3, 10, 9, tzinfo=UTC),
    finalized_at=datetime(2026, 3, 10, 9, tzinfo=UTC),
    lines=(InvoiceLine(id="il", description="x", quantity=Decimal(1), amount=_usd(10000),
                       discount=_usd(0)),),
    subtotal=_usd(10000), tax=_usd(0), total=_usd(10000), amount_paid=_usd(10000),
)  # fmt: skip


def _payment(invoice: str = "in_1") -> Payment:
    return Payment(
        id="ch_1", invoice=invoice, customer="cus_1", intent="pi_1",
        created=datetime(2026, 3, 2, 12, tzinfo=UTC),
        gross=_usd(10000), fee=_usd(300), net=_usd(9700),
    )  # fmt: skip


def _ctx(posted: tuple[str, ...] = ()) -> Context:
    return Context(
        flow="f", connection="stripe", record="stripe:charge:ch_1", version="v",
        invoice=lambda ident: INVOICE if ident == "in_1" else None,
        posted=lambda record: posted if record == "stripe:charge:ch_1" else (),
    )  # fmt: skip


def _legs(plan_entry: object) -> dict[str, Decimal]:
    return {p.account: p.amount.amount for p in plan_entry.postings}  # type: ignore[attr-defined]


def test_a_payment_with_no_invoice_yet_is_a_prepayment_linked_to_its_handle(
    tmp_path: Path,
) -> None:
    plan = plan_entries(_payment(invoice=""), _mapping(tmp_path, BASE), _ctx())
    [item] = plan.entries
    assert item.facet == "prepayment"
    assert item.entry.links == ("pi_1",)
    assert _legs(item.entry)["Liabilities:Prepayments"] == Decimal("-100.00")


def test_once_linked_the_prepayment_is_applied_at_both_rates(tmp_path: Path) -> None:
    """Paid 2 March at 0.90 (90.00 EUR into prepayments), invoiced 10 March at 0.85
    (85.00 EUR receivable): the application realizes a 5.00 EUR gain, dated 10 March."""
    mapping = _mapping(tmp_path, BASE + FX)
    plan = plan_entries(_payment(), mapping, _ctx(posted=("prepayment",)))
    assert [p.facet for p in plan.entries] == ["prepayment", "apply"]
    assert [r.facet for r in plan.requires] == ["issue"]
    first = plan_entries(_payment(invoice=""), mapping, _ctx()).entries[0]
    assert _legs(plan.entries[0].entry) == _legs(first.entry)  # the posted prepayment, unchanged
    apply = plan.entries[1].entry
    assert apply.date.isoformat() == "2026-03-10"
    assert apply.links == ("in_1",)
    assert _legs(apply) == {
        "Liabilities:Prepayments": Decimal("90.00"),
        "Assets:Receivable": Decimal("-85.00"),
        "Income:FX-Gain": Decimal("-5.00"),
    }


def test_a_linked_payment_never_posted_as_prepayment_is_a_plain_payment(tmp_path: Path) -> None:
    plan = plan_entries(_payment(), _mapping(tmp_path, BASE), _ctx())
    assert [p.facet for p in plan.entries] == ["payment"]
    assert _legs(plan.entries[0].entry)["Assets:Receivable"] == Decimal("-100.00")


def test_an_unapplied_payment_posted_before_prepayments_existed_keeps_its_facet(
    tmp_path: Path,
) -> None:
    plan = plan_entries(_payment(invoice=""), _mapping(tmp_path, BASE), _ctx(posted=("payment",)))
    assert [p.facet for p in plan.entries] == ["payment"]  # never a second posting


def test_a_settled_payment_without_functional_currency_needs_a_conversion_account(
    tmp_path: Path,
) -> None:
    settled = Payment(
        id="ch_1", invoice="in_1", customer="cus_1", created=datetime(2026, 3, 2, tzinfo=UTC),
        gross=_usd(10000), settled=Money.from_minor(9100, "EUR"),
        fee=Money.from_minor(300, "EUR"), net=Money.from_minor(8800, "EUR"),
    )  # fmt: skip
    plan = plan_entries(settled, _mapping(tmp_path, BASE), _ctx())
    [problem] = plan.problems
    assert problem.field == "accounts.conversion"
    with_account = BASE.replace("  unapplied:", "  conversion: Equity:Conversions\n  unapplied:")
    plan = plan_entries(settled, _mapping(tmp_path, with_account), _ctx())
    [item] = plan.entries
    legs = [(p.account, p.amount.amount, p.amount.currency) for p in item.entry.postings]
    assert legs == [
        ("Assets:Clearing", Decimal("88.00"), "EUR"),
        ("Expenses:Fees", Decimal("3.00"), "EUR"),
        ("Assets:Receivable", Decimal("-100.00"), "USD"),
        ("Equity:Conversions", Decimal("100.00"), "USD"),
        ("Equity:Conversions", Decimal("-91.00"), "EUR"),
    ]
