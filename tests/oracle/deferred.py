"""The oracle's deferred revenue: each line's unrecognized remainder, computed from the source.

Why a schedule of its own: the books' deferred balances must be checked against
something billbridge did not compute. This module knows only the history (each line's
amount, discount and service period; each invoice's, void's and credit note's date) and
the rules docs/mapping.md states for `deferral:`:

- a line defers when its service period (its `period` in days of the entity's time zone,
  the end excluded) has at least `min_days` days; documents are dated in that zone too;
- each document touching the line (the invoice, its void, a credit note on the line, the
  credit note's void) moves the line's net amount (a credit note: the credited part);
  the days of the period before the document's date are earned at once, the rest waits
  on the deferred account;
- `recognize --through R` posts every calendar month (cut to the period) that ends by R,
  so a document's part is earned up to the start of R + 1's month (or the end of the
  period, once R reaches it), never before the document's date;
- the amount earned by a day is amount * days served / days, rounded half away from
  zero to the minor unit: each month within one unit of its share, the whole amount at
  the end.

In books without a functional currency every figure is exact. In EUR books a USD, JPY or
KWD line is converted once, at its invoice's rate, and the pair is scheduled together
(the side with fewer minor units leads, docs/mapping.md "entities and currencies");
the oracle does not restate that conversion, so a converted part still waiting is
checked within the rounding the pair rule allows (one unit, plus one per unit of the
leading currency), and exactly once it is due in full (zero left).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from .histories import DAY, MINOR, HInvoice, History

DEFERRED = "Liabilities:Deferred-Revenue"
SALES = "Income:Sales"
MIN_DAYS = 28  # a month of February defers, a week does not
DEFERRAL = f"deferral:\n  account: {DEFERRED}\n  min_days: {MIN_DAYS}\n"

Rows = list[tuple[str, str, str, str, str, Decimal]]
# EUR per unit, near the oracle's rates: how many minor units of a currency one EUR cent is
_RATE_GUESS = {"USD": Decimal("0.9"), "JPY": Decimal("0.006"), "KWD": Decimal("2.9")}


def local_day(moment: int, zone: str) -> date:
    return datetime.fromtimestamp(moment, ZoneInfo(zone)).date()


def _month_start(day: date) -> date:
    return day.replace(day=1)


@dataclass(frozen=True, slots=True)
class Leg:
    """One document's part of one deferred line: `amount` (minor units, positive) over
    [start, end), posted on `cut`; `sign` -1 for the invoice or a credit note's void (a
    credit on the deferred account), +1 for the invoice's void or a credit note (a debit)."""

    currency: str
    start: date
    end: date
    cut: date
    amount: int
    sign: int
    issued: date  # the invoice's day: the rate EUR books convert the line at

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def earned(self, day: date) -> int:
        """What the days before `day` have earned, rounded half away from zero."""
        served = (min(max(day, self.start), self.end) - self.start).days
        if served >= self.days:
            return self.amount
        return (2 * self.amount * served + self.days) // (2 * self.days)

    def until(self, through: date | None) -> date:
        """The first day not recognized once every month ending by `through` is posted."""
        cut = min(max(self.cut, self.start), self.end)
        if through is None:
            return cut
        after = through + timedelta(days=1)
        boundary = self.end if after >= self.end else _month_start(after)
        return max(cut, min(boundary, self.end))

    def remainder(self, through: date | None) -> int:
        """Signed (debit positive) what this part leaves on the deferred account."""
        return self.sign * (self.amount - self.earned(self.until(through)))

    def recognized(self, through: date | None) -> int:
        """Signed what recognition has moved to revenue (a credit is negative)."""
        cut = min(max(self.cut, self.start), self.end)
        return self.sign * (self.earned(self.until(through)) - self.earned(cut))

    def done(self, through: date | None) -> bool:
        return self.until(through) >= self.end


def service(period: tuple[int, int] | None, zone: str) -> tuple[date, date] | None:
    """A line's service days [start, end) in `zone`, when long enough to defer."""
    if period is None:
        return None
    start, end = local_day(period[0], zone), local_day(period[1], zone)
    return (start, end) if (end - start).days >= MIN_DAYS else None


def nets(inv: HInvoice, api: str) -> list[int]:
    """Each line's amount after discounts.

    The 2017-08-15 shape states one discount on the invoice; billbridge spreads it over
    the lines by their amounts, largest remainder first (docs/mapping.md, zero invoices).
    """
    if api == "current":
        return [line.amount - line.discount for line in inv.lines]
    discount = sum(line.discount for line in inv.lines)
    weights = [max(0, line.amount) for line in inv.lines]
    if discount <= 0 or sum(weights) < discount:
        return [line.amount for line in inv.lines]
    total = sum(weights)
    shares = [discount * w // total for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(discount * weights[i] % total), i))
    for i in order[: discount - sum(shares)]:
        shares[i] += 1
    return [line.amount - share for line, share in zip(inv.lines, shares, strict=True)]


def legs(history: History, zone: str) -> list[Leg]:
    """Every document's part of every deferred line of `history`, for books in `zone`."""
    out: list[Leg] = []
    for inv in history.invoices:
        issued = local_day(inv.created, zone)
        for line, net in zip(inv.lines, nets(inv, history.api), strict=True):
            days = service(line.period, zone)
            if days is None or net == 0:
                continue
            out.append(Leg(inv.currency, *days, cut=issued, amount=net, sign=-1, issued=issued))
            if inv.status == "void":
                voided = local_day(inv.created + DAY, zone)
                out.append(Leg(inv.currency, *days, cut=voided, amount=net, sign=1, issued=issued))
    for cn in history.credit_notes:
        inv = history.invoice(cn.invoice)
        days = service(inv.lines[cn.line].period, zone)
        if days is None or not cn.part.amount:
            continue
        issued = local_day(inv.created, zone)
        out.append(Leg(inv.currency, *days, cut=local_day(cn.created, zone),
                       amount=cn.part.amount, sign=1, issued=issued))  # fmt: skip
        if cn.voided_at is not None:
            out.append(Leg(inv.currency, *days, cut=local_day(cn.voided_at, zone),
                           amount=cn.part.amount, sign=-1, issued=issued))  # fmt: skip
    return out


def _money(minor: int, cur: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR[cur])


def _balances(rows: Rows, account: str, *, recognition: bool = False) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for _entry, idem, _record, acc, cur, amount in rows:
        if acc != account and not acc.startswith(account + ":"):
            continue
        if recognition and ":recognition:" not in idem:
            continue
        out[cur] += amount
    return {c: v for c, v in out.items() if v}


def _by_currency(values: Iterable[tuple[str, int]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for cur, minor in values:
        out[cur.upper()] += _money(minor, cur)
    return {c: v for c, v in out.items() if v}


def _show(values: dict[str, Decimal]) -> str:
    return ", ".join(f"{v:f} {c}" for c, v in sorted(values.items()) if v) or "0"


def invoiced(history: History) -> dict[str, Decimal]:
    """Per currency, the net revenue the source invoiced less what it credited (a credit
    balance, negative): what revenue and the deferred account hold together."""
    values: list[tuple[str, int]] = []
    for inv in history.invoices:
        if inv.status != "void":
            values += [(inv.currency, -net) for net in nets(inv, history.api)]
    for cn in history.credit_notes:
        if cn.voided_at is None:
            values.append((history.invoice(cn.invoice).currency, cn.part.amount))
    return _by_currency(values)


def check_exact(rows: Rows, history: History, parts: list[Leg], through: date | None) -> list[str]:
    """Books in the transaction currency (no functional currency, or Beancount's units):
    the deferred balance and the revenue recognition moved equal the oracle's (`parts`,
    from `legs`), exactly."""
    found = []
    want = _by_currency((leg.currency, leg.remainder(through)) for leg in parts)
    have = _balances(rows, DEFERRED)
    if want != have:
        found.append(f"deferred balance through {through}: source {_show(want)}, "
                     f"books {_show(have)}")  # fmt: skip
    want = _by_currency((leg.currency, leg.recognized(through)) for leg in parts)
    have = _balances(rows, SALES, recognition=True)
    if want != have:
        found.append(f"revenue recognized through {through}: source {_show(want)}, "
                     f"books {_show(have)}")  # fmt: skip
    return found + check_total(rows, history)


def check_total(rows: Rows, history: History) -> list[str]:
    """Recognized plus deferred equals the invoiced net amounts, per currency."""
    sales, deferred = _balances(rows, SALES), _balances(rows, DEFERRED)
    both = {c: sales.get(c, Decimal(0)) + deferred.get(c, Decimal(0)) for c in {*sales, *deferred}}
    both = {c: v for c, v in both.items() if v}
    want = invoiced(history)
    if both != want:
        return [f"revenue + deferred: source {_show(want)} invoiced net, books {_show(both)}"]
    return []


def check_converted(
    rows: Rows,
    parts: list[Leg],
    through: date | None,
    *,
    functional: str,
    rate: Callable[[str, date], Decimal] | None,
) -> list[str]:
    """EUR books: per currency of `rows`, the deferred balance within the pair rule's
    rounding of the oracle's, and exactly zero for parts due in full.

    `rate=None`: `rows` are in the transaction currency (Beancount's units); otherwise in
    `functional`, each leg's amount converted at `rate(currency, issue day)` (the books
    may differ from that by the conversion's rounding residue too, a few cents at most:
    five per part still waiting).
    """
    want: dict[str, Decimal] = defaultdict(Decimal)
    slack: dict[str, Decimal] = defaultdict(Decimal)
    for leg in parts:
        if leg.currency.upper() == functional or rate is None:
            cur, minor = leg.currency.upper(), MINOR[leg.currency]
            value = _money(leg.remainder(through), leg.currency)
        else:
            cur, minor = functional, 2
            per = rate(leg.currency.upper(), leg.issued)
            value = _money(leg.remainder(through), leg.currency) * per
        want[cur] += value
        if leg.done(through) or leg.currency.upper() == functional:
            continue
        # the leading side is the one with fewer minor units: in EUR books, EUR
        ratio = Decimal(10) ** (MINOR[leg.currency] - 2) / _RATE_GUESS[leg.currency.upper()]
        units = 5 if rate is not None else 1 + math.ceil(ratio)
        slack[cur] += Decimal(units).scaleb(-minor)
    have = _balances(rows, DEFERRED)
    found = []
    for cur in sorted({*want, *have}):
        diff = abs(have.get(cur, Decimal(0)) - want.get(cur, Decimal(0)))
        if diff > slack.get(cur, Decimal(0)):
            found.append(f"deferred {cur} through {through}: source {want[cur]:.4f} "
                         f"(within {slack[cur]:f}), books {have.get(cur, 0):f}")  # fmt: skip
    return found
