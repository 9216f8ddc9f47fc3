"""Every converted entry is bean-check clean (issue 14, finding 3).

Beancount reads `u X @@ c F` as a per-unit price c/u; when c/u has no exact decimal the
weight u x (c/u) misses c by ~1e-27, and an entry with no amount written in F has no
tolerance to absorb it ("Transaction does not balance (-1E-27 EUR)"). The renderer now
asks Beancount's own arithmetic and, only where needed, adds a zero anchor in F. These
tests generate entries the way mapping/fx.py converts them (one rate per leg, rounding
residue to the largest leg, a realized gain or loss for two rates) over currencies with
0, 2 and 3 minor units, and load the rendered text with Beancount's real loader.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from beancount import loader
from beancount.core import convert, data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billbridge.connectors.beancount import render_entries
from billbridge.domain import JournalEntry, Money, Posting, convert_postings, minor_units

_ACCOUNTS = ("Assets:Receivable", "Income:Sales", "Liabilities:VAT", "Assets:Clearing",
             "Expenses:Fees", "Income:FX-Gain", "Expenses:FX-Loss")  # fmt: skip
_OPENS = "".join(f"2020-01-01 open {a}\n" for a in _ACCOUNTS)
_CURRENCIES = ("JPY", "KRW", "EUR", "USD", "KWD", "BHD")  # 0, 0, 2, 2, 3, 3 minor units

rates = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("2000"), places=6, allow_nan=False
).filter(lambda r: r > 0)


def _money(minor: int, currency: str) -> Money:
    return Money.from_minor(minor, currency)


def _converted(
    legs: list[tuple[str, Money]], leg_rates: list[Decimal], functional: str
) -> list[Posting]:
    """`legs` in `functional`, as mapping/fx.py converts them (gain or loss to FX accounts)."""
    postings, residue = convert_postings(
        [Posting(account=a, amount=m) for a, m in legs], leg_rates, functional
    )
    if residue.amount:
        gain = residue.amount > 0
        postings.append(
            Posting(
                account="Income:FX-Gain" if gain else "Expenses:FX-Loss",
                amount=Money.rounded(-residue.amount, functional),
            )
        )
    return postings


def _entry(postings: list[Posting], n: int = 0) -> JournalEntry:
    return JournalEntry(
        date=date(2026, 3, 2), narration=f"entry {n}", postings=tuple(postings),
        key=f"f|stripe:x:{n}|issue", source=f"stripe:x:{n}", version="v",
    )  # fmt: skip


def _load(text: str) -> list[data.Transaction]:
    entries, errors, _ = loader.load_string(_OPENS + text)
    assert errors == [], [str(e.message) for e in errors]
    return [e for e in entries if isinstance(e, data.Transaction)]


def _check_weights(entry: JournalEntry, txn: data.Transaction) -> None:
    """Each converted leg weighs exactly its converted amount (at F's minor unit)."""
    for posting, parsed in zip(entry.postings, txn.postings, strict=False):
        weight = convert.get_weight(parsed)
        assert weight.currency == posting.amount.currency
        quantum = Decimal(1).scaleb(-minor_units(weight.currency))
        assert weight.number.quantize(quantum) == posting.amount.amount


@st.composite
def invoices(draw: st.DrawFn) -> JournalEntry:
    """An invoice: receivable = lines + tax, all converted at the issue day's rate."""
    functional, source = draw(st.lists(st.sampled_from(_CURRENCIES), min_size=2, max_size=2,
                                       unique=True))  # fmt: skip
    lines = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=4))
    tax = draw(st.integers(0, 10**8))
    legs = [("Income:Sales", _money(-m, source)) for m in lines]
    if tax:
        legs.append(("Liabilities:VAT", _money(-tax, source)))
    legs.insert(0, ("Assets:Receivable", _money(sum(lines) + tax, source)))
    rate = draw(rates)
    return _entry(_converted(legs, [rate] * len(legs), functional))


@st.composite
def payments(draw: st.DrawFn) -> JournalEntry:
    """A payment: receivable at the invoice's rate, cash and fee at the payment day's."""
    functional, source = draw(st.lists(st.sampled_from(_CURRENCIES), min_size=2, max_size=2,
                                       unique=True))  # fmt: skip
    gross = draw(st.integers(1, 10**9))
    fee = draw(st.integers(0, gross))
    issued, paid = draw(rates), draw(st.one_of(rates, st.just(None)))
    paid = issued if paid is None else paid
    legs = [
        ("Assets:Clearing", _money(gross - fee, source)),
        ("Expenses:Fees", _money(fee, source)),
        ("Assets:Receivable", _money(-gross, source)),
    ]
    legs = [(a, m) for a, m in legs if m.amount]
    leg_rates = [issued if a == "Assets:Receivable" else paid for a, _ in legs]
    return _entry(_converted(legs, leg_rates, functional))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(invoices(), payments()))
def test_every_converted_entry_loads_balanced_and_weighs_its_converted_amounts(
    entry: JournalEntry,
) -> None:
    text = render_entries([entry])
    (txn,) = _load(text)
    _check_weights(entry, txn)
    # the anchor, when there is one, is a zero in the functional currency and nothing else
    extra = txn.postings[len(entry.postings) :]
    assert all(p.units.number == 0 and p.price is None for p in extra)


def test_a_jpy_invoice_in_eur_books_is_clean_and_anchored_once(tmp_path: Path) -> None:
    """The case bean-check reported: 1234 JPY = 1000 + 234, converted at 0.006264."""
    postings = _converted(
        [("Assets:Receivable", _money(1234, "JPY")), ("Income:Sales", _money(-1000, "JPY")),
         ("Liabilities:VAT", _money(-234, "JPY"))],
        [Decimal("0.006264")] * 3, "EUR",
    )  # fmt: skip
    assert [p.amount.amount for p in postings] == [
        Decimal("7.73"), Decimal("-6.26"), Decimal("-1.47")
    ]  # fmt: skip
    text = render_entries([_entry(postings)])
    assert text.count(" 0.00 EUR") == 1
    path = tmp_path / "main.beancount"
    path.write_text(_OPENS + text)
    exe = Path(sys.executable).with_name("bean-check")
    check = subprocess.run([str(exe), str(path)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_entry_with_a_functional_leg_needs_no_anchor() -> None:
    """A realized gain in EUR already gives Beancount its tolerance: nothing is added."""
    postings = _converted(
        [("Assets:Clearing", _money(1150, "JPY")), ("Expenses:Fees", _money(84, "JPY")),
         ("Assets:Receivable", _money(-1234, "JPY"))],
        [Decimal("0.0061"), Decimal("0.0061"), Decimal("0.006264")], "EUR",
    )  # fmt: skip
    assert any(p.original is None for p in postings)  # the FX loss leg, in EUR
    text = render_entries([_entry(postings)])
    assert " 0.00 EUR" not in text
    _load(text)
