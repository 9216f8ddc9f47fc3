"""Deferred revenue: which lines defer, the split of each document, and recognition pieces."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billbridge.domain import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    JournalEntry,
    Money,
    TaxAmount,
)
from billbridge.mapping.model import Mapping, load_mapping
from billbridge.mapping.recognition import (
    Document,
    RecognitionContext,
    deferred_legs,
    expected_deferred,
    plan_recognition,
    unrecognized,
)
from billbridge.mapping.rules import Context, plan_entries
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
tax_rates:
  txr_de: Liabilities:VAT
"""
DEFERRAL = """\
deferral:
  account: Liabilities:Deferred-Revenue
  min_days: 32
"""
FX = """\
currency: EUR
fx:
  rates:
    - {date: 2026-01-01, pair: USD/EUR, rate: "0.9137"}
  gain: Income:FX-Gain
  loss: Expenses:FX-Loss
"""
DEFERRED = "Liabilities:Deferred-Revenue"
BERLIN_MIDNIGHT = 23  # 2026-01-01 00:00 in Berlin is 2025-12-31 23:00 UTC


def _mapping(tmp_path: Path, text: str = BASE + DEFERRAL) -> Mapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return load_mapping(path)


def _at(day: date) -> datetime:
    """Midnight in Berlin, as the UTC instant Stripe would give."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).replace(hour=0) - (
        datetime(2026, 1, 1, tzinfo=UTC) - datetime(2025, 12, 31, BERLIN_MIDNIGHT, tzinfo=UTC)
    )


def _money(amount: str, currency: str = "EUR") -> Money:
    return Money(amount=Decimal(amount), currency=currency)


def _line(
    line_id: str,
    amount: str,
    *,
    start: date = date(2026, 1, 1),
    end: date = date(2027, 1, 1),
    currency: str = "EUR",
    tax: str = "0",
    discount: str = "0",
) -> InvoiceLine:
    zero = Money.zero(currency)
    taxes = (TaxAmount(rate="txr_de", amount=_money(tax, currency)),) if tax != "0" else ()
    return InvoiceLine(
        id=line_id,
        description=f"plan {line_id}",
        quantity=Decimal(1),
        amount=_money(amount, currency),
        discount=_money(discount, currency) if discount != "0" else zero,
        taxes=taxes,
        period_start=_at(start),
        period_end=_at(end),
    )


def _invoice(*lines: InvoiceLine, currency: str = "EUR", **over: object) -> Invoice:
    net = sum((li.amount.amount - li.discount.amount for li in lines), Decimal(0))
    tax = sum((t.amount.amount for li in lines for t in li.taxes), Decimal(0))
    fields: dict[str, object] = {
        "id": "in_1",
        "number": "HB-0042",
        "customer": "cus_1",
        "customer_name": "Globex",
        "currency": currency,
        "status": InvoiceStatus.PAID,
        "created": _at(date(2026, 1, 1)),
        "finalized_at": _at(date(2026, 1, 1)),
        "lines": lines,
        "subtotal": _money(str(sum((li.amount.amount for li in lines), Decimal(0))), currency),
        "tax": _money(str(tax), currency),
        "total": _money(str(net + tax), currency),
        "amount_paid": Money.zero(currency),
    }
    fields.update(over)
    return Invoice(**fields)  # type: ignore[arg-type]


def _credit(
    amount: str,
    *,
    day: date,
    line: str = "il_1",
    currency: str = "EUR",
    cn_id: str = "cn_1",
    refund: str = "0",
    status: str = "issued",
    voided: date | None = None,
) -> CreditNote:
    money = _money(amount, currency)
    return CreditNote(
        id=cn_id,
        number=f"CN-{cn_id}",
        invoice="in_1",
        customer="cus_1",
        currency=currency,
        created=_at(day),
        lines=(
            CreditNoteLine(
                id=f"cnli_{cn_id}", description="credit", amount=money, invoice_line=line
            ),
        ),
        total=money,
        refund_amount=_money(refund, currency) if refund != "0" else Money.zero(currency),
        status=status,
        voided_at=_at(voided) if voided else None,
    )


def _plan(
    value: Invoice | CreditNote, mapping: Mapping, inv: Invoice | None = None
) -> dict[str, JournalEntry]:
    kind = "invoice" if isinstance(value, Invoice) else "credit_note"
    ctx = Context(
        flow="f", connection="stripe", record=f"stripe:{kind}:{value.id}", version="v",
        invoice=lambda _id: inv,
    )  # fmt: skip
    plan = plan_entries(value, mapping, ctx)
    assert not plan.problems, plan.problems
    return {p.facet: p.entry for p in plan.entries}


def _documents(inv: Invoice, mapping: Mapping, *credits: CreditNote) -> list[Document]:
    docs = [
        Document(name=f, label="invoice HB-0042", entry=e) for f, e in _plan(inv, mapping).items()
    ]
    for cn in credits:
        for facet, entry in _plan(cn, mapping, inv).items():
            name = cn.id if facet == "credit" else f"{cn.id}-void"
            docs.append(Document(name=name, label=f"credit note {cn.number}", entry=entry))
    return docs


CTX = RecognitionContext(flow="f", record="stripe:recognition:in_1", version="v", link="in_1")


def _recognize(
    docs: list[Document], through: date, posted: Iterable[str] = ()
) -> dict[str, JournalEntry]:
    planned = plan_recognition(deferred_legs(docs), CTX, through=through, posted=set(posted))
    return {p.facet: p.entry for p in planned}


def _balances(entries: Iterable[JournalEntry]) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        for p in entry.postings:
            sums[p.account, p.amount.currency] += p.amount.amount
    return dict(sums)


# ---------------------------------------------------------------- the mapping key
def test_the_deferral_account_must_be_a_liability(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"deferral.account.*must be a liability"):
        _mapping(tmp_path, BASE + DEFERRAL.replace("Liabilities:Deferred-Revenue", "Income:Later"))
    with pytest.raises(ConfigError, match=r"deferral.min_days.*required"):
        _mapping(tmp_path, BASE + "deferral: {account: Liabilities:Deferred}\n")


def test_a_mapping_without_deferral_keeps_its_version_and_its_entries(tmp_path: Path) -> None:
    plain = _mapping(tmp_path, BASE)
    inv = _invoice(_line("il_1", "1200.00"))
    [issue] = _plan(inv, plain).values()
    assert {p.account for p in issue.postings} == {"Assets:Receivable", "Income:Sales"}
    assert all(not p.meta for p in issue.postings)
    assert plain.version != _mapping(tmp_path, BASE + DEFERRAL).version


# ---------------------------------------------------------------- issue, credit, void
def test_an_annual_line_is_deferred_and_a_monthly_one_is_revenue_at_once(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    inv = _invoice(
        _line("il_1", "1200.00", tax="228.00"),
        _line("il_2", "10.00", end=date(2026, 1, 31)),  # 30 days < min_days 32
    )
    issue = _plan(inv, mapping)["issue"]
    legs = {p.account: p for p in issue.postings}
    assert legs["Assets:Receivable"].amount == _money("1438.00")
    assert legs[DEFERRED].amount == _money("-1200.00")
    assert dict(legs[DEFERRED].meta) == {
        "deferred-line": "il_1",
        "service": "2026-01-01..2026-12-31",
        "recognize-to": "Income:Sales",
    }
    assert legs["Income:Sales"].amount == _money("-10.00")
    assert legs["Liabilities:VAT"].amount == _money("-228.00")  # tax is due on the invoice


def test_the_days_before_a_late_invoice_are_earned_at_once(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    inv = _invoice(_line("il_1", "365.00"), finalized_at=_at(date(2026, 1, 11)))
    issue = _plan(inv, mapping)["issue"]
    legs = {p.account: p.amount for p in issue.postings}
    assert legs["Income:Sales"] == _money("-10.00") and legs[DEFERRED] == _money("-355.00")


def test_an_annual_plan_is_recognized_month_by_month_by_its_days(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    docs = _documents(_invoice(_line("il_1", "1000.00")), mapping)
    march = _recognize(docs, date(2026, 3, 31))
    assert list(march) == ["issue:il_1:2026-01", "issue:il_1:2026-02", "issue:il_1:2026-03"]
    jan = march["issue:il_1:2026-01"]
    assert (
        jan.date == date(2026, 1, 31) and jan.key == "f|stripe:recognition:in_1|issue:il_1:2026-01"
    )
    assert {p.account: p.amount for p in jan.postings} == {
        "Income:Sales": _money("-84.93"),  # 1000 * 31/365
        DEFERRED: _money("84.93"),
    }
    assert "31 of 365 days" in jan.narration and jan.links == ("in_1",)
    # mid-month, only the months that have ended are due
    assert list(_recognize(docs, date(2026, 4, 15))) == [*march, "issue:il_1:2026-04"][:3]
    year = _recognize(docs, date(2026, 12, 31))
    assert len(year) == 12
    books = _balances([d.entry for d in docs] + list(year.values()))
    assert books[DEFERRED, "EUR"] == 0 and books["Income:Sales", "EUR"] == Decimal("-1000.00")
    assert unrecognized(deferred_legs(docs), through=date(2026, 12, 31)) == {
        ("default", DEFERRED, "EUR"): Decimal("0.00")
    }


def test_the_deferred_balance_equals_the_unrecognized_remainder(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    docs = _documents(_invoice(_line("il_1", "1000.00"), _line("il_2", "0.07")), mapping)
    for through in (date(2025, 12, 31), date(2026, 2, 28), date(2026, 7, 3), date(2027, 1, 1)):
        books = _balances([d.entry for d in docs] + list(_recognize(docs, through).values()))
        assert unrecognized(deferred_legs(docs), through=through) == {
            ("default", DEFERRED, "EUR"): books[DEFERRED, "EUR"]
        }


def test_a_credit_note_reduces_revenue_for_the_earned_days_and_deferred_for_the_rest(
    tmp_path: Path,
) -> None:
    mapping = _mapping(tmp_path)
    inv = _invoice(_line("il_1", "1200.00"))
    cn = _credit("600.00", day=date(2026, 4, 10), refund="600.00")
    credit = _plan(cn, mapping, inv)["credit"]
    legs = {p.account: p.amount for p in credit.postings}
    # 99 of 365 days are behind the credit note: 600 * 99/365 = 162.74 was earned
    assert legs["Income:Sales"] == _money("162.74")
    assert legs[DEFERRED] == _money("437.26")
    assert legs["Income:Refunds"] == _money("-600.00")  # the refund's own entry debits it
    docs = _documents(inv, mapping, cn)
    # recognized through March before the credit note was known: those stay as posted
    posted = _recognize(_documents(inv, mapping), date(2026, 3, 31))
    year = _recognize(docs, date(2026, 12, 31), posted=posted)
    assert "cn_1:cnli_cn_1:2026-04" in year and "cn_1:cnli_cn_1:2026-03" not in year
    books = _balances([d.entry for d in docs] + list(year.values()))
    assert books[DEFERRED, "EUR"] == 0
    assert books["Income:Sales", "EUR"] == Decimal("-600.00")  # the line's net price


def test_a_full_credit_note_cancels_the_months_after_it_instead_of_posting_pairs(
    tmp_path: Path,
) -> None:
    mapping = _mapping(tmp_path)
    inv = _invoice(_line("il_1", "1200.00"))
    docs = _documents(inv, mapping, _credit("1200.00", day=date(2026, 2, 10)))
    year = _recognize(docs, date(2026, 12, 31))
    assert sorted(year) == [
        "cn_1:cnli_cn_1:2026-02",
        "issue:il_1:2026-01",
        "issue:il_1:2026-02",
    ]
    books = _balances([d.entry for d in docs] + list(year.values()))
    assert books[DEFERRED, "EUR"] == 0 and books["Income:Sales", "EUR"] == 0


def test_a_void_known_late_takes_back_what_was_recognized_after_it(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    line = _line("il_1", "1200.00")
    open_invoice = _invoice(line, status=InvoiceStatus.OPEN)
    posted = _recognize(_documents(open_invoice, mapping), date(2026, 4, 30))
    voided = replace(open_invoice, status=InvoiceStatus.VOID, voided_at=_at(date(2026, 3, 15)))
    docs = _documents(voided, mapping)
    void = next(d.entry for d in docs if d.name == "void")
    legs = {p.account: p.amount for p in void.postings}
    assert legs["Income:Sales"] == _money("240.00")  # 1200 * 73/365, earned before the void
    year = _recognize(docs, date(2026, 12, 31), posted=posted)
    new = sorted(set(year) - set(posted))
    assert new == ["void:il_1:2026-03", "void:il_1:2026-04"]  # May..Dec: pairs left out
    books = _balances([d.entry for d in docs] + list(year.values()))
    assert books[DEFERRED, "EUR"] == 0 and books["Income:Sales", "EUR"] == 0


def test_a_voided_credit_note_restores_the_schedule(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    inv = _invoice(_line("il_1", "1200.00"))
    cn = _credit("300.00", day=date(2026, 2, 1), status="void", voided=date(2026, 6, 1))
    docs = _documents(inv, mapping, cn)
    assert {d.name for d in docs} == {"issue", "cn_1", "cn_1-void"}
    year = _recognize(docs, date(2026, 12, 31))
    books = _balances([d.entry for d in docs] + list(year.values()))
    assert books[DEFERRED, "EUR"] == 0 and books["Income:Sales", "EUR"] == Decimal("-1200.00")
    assert not any(f.startswith(("cn_1:", "cn_1-void:")) and f.endswith("-07") for f in year)


def test_a_separate_discount_is_deferred_with_its_line(tmp_path: Path) -> None:
    mapping = _mapping(
        tmp_path, BASE.replace("  revenue:", "  discounts: Expenses:Discounts\n  revenue:")
        + "discounts: separate\n" + DEFERRAL,
    )  # fmt: skip
    docs = _documents(_invoice(_line("il_1", "1200.00", discount="120.00")), mapping)
    issue = _balances([docs[0].entry])
    assert issue[DEFERRED, "EUR"] == Decimal("-1080.00")  # -1200.00 of the line, 120.00 discount
    assert ("Expenses:Discounts", "EUR") not in issue
    year = _recognize(docs, date(2026, 12, 31))
    books = _balances([d.entry for d in docs] + list(year.values()))
    assert books[DEFERRED, "EUR"] == 0
    assert books["Income:Sales", "EUR"] == Decimal("-1200.00")
    assert books["Expenses:Discounts", "EUR"] == Decimal("120.00")


def test_entities_defer_to_their_own_prefixed_account(tmp_path: Path) -> None:
    mapping = _mapping(
        tmp_path,
        BASE + DEFERRAL + "entities:\n  - {name: de, prefix: DE}\n",
    )
    docs = _documents(_invoice(_line("il_1", "1200.00")), mapping)
    (leg,) = deferred_legs(docs)
    assert (leg.entity, leg.account, leg.revenue) == (
        "de",
        "Liabilities:DE:Deferred-Revenue",
        "Income:DE:Sales",
    )


def test_a_converted_invoice_is_recognized_exactly_in_both_currencies(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, BASE + FX + DEFERRAL)
    inv = _invoice(_line("il_1", "999.99", currency="USD"), currency="USD")
    docs = _documents(inv, mapping)
    (leg,) = deferred_legs(docs)
    assert leg.deferred == _money("-913.69") and leg.deferred_original == _money("-999.99", "USD")
    year = _recognize(docs, date(2026, 12, 31))
    assert sum((e.postings[0].amount.amount for e in year.values()), Decimal(0)) == Decimal(
        "-913.69"
    )
    originals = [e.postings[0].original for e in year.values()]
    assert sum((o.amount for o in originals if o is not None), Decimal(0)) == Decimal("-999.99")
    march = unrecognized([leg], through=date(2026, 3, 31), view="units")
    assert march == {("default", DEFERRED, "USD"): Decimal("-753.42")}  # 999.99 * 275/365


@settings(max_examples=60, deadline=None)
@given(
    minor=st.integers(min_value=1, max_value=10**8),
    currency=st.sampled_from(("JPY", "EUR", "KWD")),
    start=st.dates(min_value=date(2025, 6, 1), max_value=date(2026, 6, 1)),
    days=st.integers(min_value=32, max_value=800),
    credit_share=st.integers(min_value=0, max_value=100),
    credit_day=st.integers(min_value=-30, max_value=830),
    through_day=st.integers(min_value=-30, max_value=830),
)
def test_any_history_leaves_exactly_the_unrecognized_remainder_deferred(
    tmp_path_factory: pytest.TempPathFactory,
    minor: int,
    currency: str,
    start: date,
    days: int,
    credit_share: int,
    credit_day: int,
    through_day: int,
) -> None:
    mapping = _mapping(tmp_path_factory.mktemp("m"))
    amount = Money.from_minor(minor, currency)
    line = _line("il_1", f"{amount.amount:f}", start=start, end=start + timedelta(days=days),
                 currency=currency)  # fmt: skip
    inv = _invoice(line, currency=currency, finalized_at=_at(start), created=_at(start))
    credited = Money.from_minor(minor * credit_share // 100, currency)
    notes = (
        [_credit(f"{credited.amount:f}", day=start + timedelta(days=credit_day), currency=currency)]
        if credited
        else []
    )
    docs = _documents(inv, mapping, *notes)
    through = start + timedelta(days=through_day)
    books = _balances([d.entry for d in docs] + list(_recognize(docs, through).values()))
    expected = unrecognized(deferred_legs(docs), through=through)
    assert expected == {
        ("default", DEFERRED, currency): books.get((DEFERRED, currency), Decimal(0))
    }
    assert expected_deferred([inv, *notes], mapping, through=through) == expected
    end = _recognize(docs, start + timedelta(days=days + 40))
    final = _balances([d.entry for d in docs] + list(end.values()))
    assert final.get((DEFERRED, currency), 0) == 0
    assert -final.get(("Income:Sales", currency), 0) == amount.amount - credited.amount
