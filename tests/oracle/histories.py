"""Whole Stripe histories for the oracle: what happened, and the Stripe JSON that says it.

A `History` is the source's truth, kept as plain numbers: invoices (zero, discounted,
taxed, multi-line, in currencies with 0, 2 and 3 minor units; open, paid or voided;
lines with a service period of none, a week, a month or a year, starting on the
invoice's day, a few days before or after it, or long before it, so that periods
straddle month ends, began before their invoice or are over already),
payments (before or after their invoice, or with none; settled in the invoice currency
or another one), partial and full refunds, and credit notes (refunded, or not and
sometimes voided). `histories()` draws one
with hypothesis; `History.units()` turns it into Stripe objects grouped into the units
an export may reorder (a balance transaction stays right before its charge or refund:
a record held for a reference record that comes later is issue 13's business).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hypothesis import strategies as st

from .stripe_json import Api, Line, charge, credit_note, invoice, invoice_payment, refund, ts

CURRENCIES = ("eur", "usd", "jpy", "kwd")  # 2, 2, 0 and 3 minor units
MINOR = {"eur": 2, "usd": 2, "jpy": 0, "kwd": 3}
# rough value of one unit in EUR, so amounts and settlements stay realistic
VALUE = {"eur": Decimal(1), "usd": Decimal("0.9"), "jpy": Decimal("0.0062"), "kwd": Decimal(3)}
FIRST_DAY = ts("2026-03-01")
DAY = 86_400


@dataclass(slots=True)
class HInvoice:
    id: str
    number: str
    currency: str
    lines: list[Line]
    created: int
    status: str  # open, paid, void

    @property
    def total(self) -> int:
        return sum(line.amount - line.discount + line.tax for line in self.lines)


@dataclass(slots=True)
class HPayment:
    """A succeeded charge; `invoice` None pays no invoice (a customer prepayment)."""

    id: str
    invoice: str | None
    currency: str
    amount: int
    fee: int
    created: int
    settle: tuple[str, str, int] | None = None  # (currency, exchange rate, amount)
    refunded: int = 0

    def settled(self, amount: int) -> int:
        """`amount` of this payment's currency in its settlement currency (Stripe rounds)."""
        assert self.settle is not None
        cur, rate, _ = self.settle
        value = Decimal(amount).scaleb(-MINOR[self.currency]) * Decimal(rate)
        return int(value.scaleb(MINOR[cur]).quantize(Decimal(1), ROUND_HALF_EVEN))


@dataclass(slots=True)
class HRefund:
    id: str
    payment: str
    amount: int
    created: int
    settled: int | None = None  # in the payment's settlement currency


@dataclass(slots=True)
class HCreditNote:
    """Credits part of an invoice's line `line`; `refund` pays that part back (paid
    invoices); `voided_at`: voided later (only one with no refund), so it credits nothing
    in the end."""

    id: str
    invoice: str
    part: Line
    created: int
    refund: str | None = None
    voided_at: int | None = None
    line: int = 0

    @property
    def total(self) -> int:
        return self.part.amount - self.part.discount + self.part.tax


@dataclass(slots=True)
class History:
    api: Api
    invoices: list[HInvoice] = field(default_factory=list)
    payments: list[HPayment] = field(default_factory=list)
    refunds: list[HRefund] = field(default_factory=list)
    credit_notes: list[HCreditNote] = field(default_factory=list)

    def invoice(self, ident: str) -> HInvoice:
        return next(i for i in self.invoices if i.id == ident)

    def payment(self, ident: str) -> HPayment:
        return next(p for p in self.payments if p.id == ident)

    def units(self) -> list[list[dict[str, Any]]]:
        """The Stripe objects, in groups that keep their inner order when shuffled."""
        out: list[list[dict[str, Any]]] = []
        for inv in self.invoices:
            paid = sum(p.amount for p in self.payments if p.invoice == inv.id)
            out.append([
                invoice(inv.id, number=inv.number, currency=inv.currency, lines=inv.lines,
                        created=inv.created, status=inv.status, amount_paid=paid, api=self.api,
                        voided_at=inv.created + DAY if inv.status == "void" else None)
            ])  # fmt: skip
        for pay in self.payments:
            intent = f"pi_{pay.id}"
            out.append(
                charge(pay.id, invoice=pay.invoice, amount=pay.amount, fee=pay.fee,
                       currency=pay.currency, created=pay.created, api=self.api,
                       settle=pay.settle, intent=intent)
            )  # fmt: skip
            if pay.invoice and self.api == "current":
                out.append([
                    invoice_payment(f"inpay_{pay.id}", invoice=pay.invoice, intent=intent,
                                    amount=pay.amount, currency=pay.currency,
                                    created=pay.created)
                ])  # fmt: skip
        for ref in self.refunds:
            pay = self.payment(ref.payment)
            settle = (pay.settle[0], ref.settled or 0) if pay.settle else None
            out.append(refund(ref.id, charge=pay.id, amount=ref.amount, currency=pay.currency,
                              created=ref.created, settle=settle))  # fmt: skip
        for cn in self.credit_notes:
            inv = self.invoice(cn.invoice)
            data = invoice(inv.id, number=inv.number, currency=inv.currency, lines=inv.lines,
                           created=inv.created, api=self.api)  # fmt: skip
            out.append([
                credit_note(cn.id, invoice=data, number=f"{inv.number}-CN",
                            lines=[(cn.line, cn.part)], created=cn.created,
                            refund=(cn.refund, cn.total) if cn.refund else None,
                            status="void" if cn.voided_at else "issued",
                            voided_at=cn.voided_at)
            ])  # fmt: skip
        return out


def _minor(value_eur: Decimal, cur: str) -> int:
    return int((value_eur / VALUE[cur]).scaleb(MINOR[cur]).quantize(Decimal(1)))


def months_after(moment: int, months: int) -> int:
    """`moment` `months` calendar months later, the day kept or cut to the month's last
    (as Stripe anchors a subscription on the 31st: 31 January, 28 February, 31 March)."""
    when = datetime.fromtimestamp(moment, UTC)
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return int(when.replace(year=year, month=month, day=day).timestamp())


@st.composite
def periods(draw: st.DrawFn, created: int) -> tuple[int, int] | None:
    """A line's service period: none, a week (too short to defer), a month or a year.

    It starts on the invoice's day (at another time of day), a few days before or after
    it, or long before it (a month or a year that is partly or wholly over already); or
    on the first of that month at midnight, UTC or Berlin's (calendar billing: the
    period's days then depend on the books' time zone).
    """
    kind = draw(st.sampled_from(["none", "none", "week", "month", "month", "year", "year"]))
    if kind == "none":
        return None
    offset = draw(st.sampled_from([0, 0, -3, 4, -45, -200, -390]))
    start = created + offset * DAY + draw(st.sampled_from([0, -36_000, 3_600]))
    anchor = draw(st.sampled_from(["time", "time", "utc", "berlin"]))
    if anchor != "time":
        first = datetime.fromtimestamp(start, UTC).replace(day=1, hour=0, minute=0, second=0)
        start = int(first.timestamp()) - (3_600 if anchor == "berlin" else 0)
    if kind == "week":
        return start, start + 7 * DAY
    return start, months_after(start, 1 if kind == "month" else 12)


@st.composite
def lines(draw: st.DrawFn, cur: str, created: int = FIRST_DAY) -> list[Line]:
    """1-3 lines: zero, discounted (partly or fully), taxed or not, with a service period
    or not."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        amount = draw(st.sampled_from([0, *[_minor(Decimal(v), cur) for v in (9, 49, 120)]]))
        amount = amount or draw(st.sampled_from([0, _minor(Decimal("0.5"), cur)]))
        discount = draw(st.sampled_from([0, 0, amount // 10, amount]))
        taxed = draw(st.booleans())
        tax = (amount - discount) * 19 // 100 if taxed else 0
        out.append(Line(amount, discount=discount, tax=tax, period=draw(periods(created))))
    return out


@st.composite
def histories(draw: st.DrawFn, *, api: Api | None = None, settle: bool = True) -> History:
    """One Stripe account's history over March 2026."""
    api = api or draw(st.sampled_from(["current", "2017-08-15"]))
    history = History(api=api)
    seq = iter(range(1, 10_000))

    def day() -> int:
        return FIRST_DAY + draw(st.integers(0, 25)) * DAY + draw(st.integers(0, 80_000))

    for n in range(draw(st.integers(1, 5))):
        cur = draw(st.sampled_from(CURRENCIES))
        created = day()
        inv = HInvoice(id=f"in_{n}", number=f"H-{n + 1:04d}", currency=cur,
                       lines=draw(lines(cur, created)), created=created,
                       status="open")  # fmt: skip
        history.invoices.append(inv)
        fate = draw(st.sampled_from(["open", "paid", "paid", "void"]))
        if fate == "void" or inv.total == 0:
            inv.status = "void" if fate == "void" else "paid"
            continue
        if fate == "open":
            if api == "current" and draw(st.booleans()):  # a credit before payment
                _credit(draw, history, inv, seq, refund=None)
            continue
        inv.status = "paid"
        # the payment: after the invoice, or before it (a prepayment the link applies later)
        when = inv.created + draw(st.sampled_from([-3 * DAY, -60, 600, 2 * DAY]))
        pay = _pay(draw, history, f"ch_{n}", inv.id, cur, inv.total, when, settle)
        if draw(st.integers(0, 2)) == 0 and api == "current":
            _credit(draw, history, inv, seq, refund=pay)
        elif draw(st.integers(0, 2)) == 0:
            _refund(
                draw, history, pay, draw(st.sampled_from([pay.amount, max(1, pay.amount // 3)]))
            )
    for k in range(draw(st.integers(0, 2))):  # payments of no invoice
        cur = draw(st.sampled_from(CURRENCIES))
        _pay(draw, history, f"ch_x{k}", None, cur, _minor(Decimal(draw(st.sampled_from([5, 30]))),
             cur), day(), settle)  # fmt: skip
    return history


def _pay(
    draw: st.DrawFn,
    history: History,
    ident: str,
    invoice_id: str | None,
    cur: str,
    amount: int,
    when: int,
    settle: bool,
) -> HPayment:
    fee = min(amount, amount * 29 // 1000 + _minor(Decimal("0.3"), cur))
    pay = HPayment(id=ident, invoice=invoice_id, currency=cur, amount=amount, fee=fee,
                   created=max(when, FIRST_DAY))  # fmt: skip
    if settle and draw(st.integers(0, 2)) == 0:
        into = draw(st.sampled_from([c for c in CURRENCIES if c != cur]))
        spread = Decimal(draw(st.integers(97, 103))) / 100  # Stripe's rate, near the sample one
        rate = (VALUE[cur] / VALUE[into] * spread).quantize(Decimal("0.000001"))
        pay.settle = (into, f"{rate:f}", 0)
        settled = pay.settled(amount)
        if settled <= 0:
            pay.settle = None
        else:
            pay.settle = (into, f"{rate:f}", settled)
            pay.fee = min(settled, settled * 29 // 1000)
    history.payments.append(pay)
    return pay


def _refund(draw: st.DrawFn, history: History, pay: HPayment, amount: int) -> HRefund | None:
    amount = min(amount, pay.amount - pay.refunded)
    if amount <= 0:
        return None
    pay.refunded += amount
    ref = HRefund(id=f"re_{pay.id}_{len(history.refunds)}", payment=pay.id, amount=amount,
                  created=pay.created + draw(st.integers(1, 5)) * DAY)  # fmt: skip
    if pay.settle is not None:
        ref.settled = pay.settled(amount)
    history.refunds.append(ref)
    return ref


def _credit(
    draw: st.DrawFn,
    history: History,
    inv: HInvoice,
    seq: Any,
    *,
    refund: HPayment | None,
) -> None:
    candidates = [i for i, line in enumerate(inv.lines) if line.amount > line.discount]
    if not candidates:
        return
    index = draw(st.sampled_from(candidates))
    credited = inv.lines[index]
    share = draw(st.sampled_from([1, 2]))  # all of the line's net, or half
    part_net = (credited.amount - credited.discount) // share
    tax = credited.tax // share
    part = Line(part_net, tax=tax)
    later = draw(st.sampled_from([DAY, DAY, 20 * DAY, 60 * DAY]))  # in a later month, too
    cn = HCreditNote(id=f"cn_{inv.id}_{next(seq)}", invoice=inv.id, part=part,
                     created=inv.created + later, line=index)  # fmt: skip
    if cn.total <= 0:
        return
    if refund is not None:
        ref = _refund(draw, history, refund, cn.total)
        if ref is None or ref.amount != cn.total:
            return
        cn.refund = ref.id
    elif draw(st.integers(0, 2)) == 0:  # issued by mistake, voided days (or months) later
        cn.voided_at = cn.created + draw(st.sampled_from([3_600, 3 * DAY, 40 * DAY]))
    history.credit_notes.append(cn)
