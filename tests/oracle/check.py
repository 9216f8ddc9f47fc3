"""Sync a generated history into a ledger and check the books against the source.

`run_history` builds a workspace, writes the history's Stripe objects in the given order
over one or more syncs (each sync sees a longer export, as an account's export grows),
with the given batch size, and returns every way the books disagree with the source:

- every sync exits 0 and the queue ends empty (nothing failed, nothing held);
- a last sync posts nothing; bean-check (Beancount's loader) and `books check` pass;
- per currency, the invoiced, paid, refunded and credited totals equal the source's
  (read in the transaction currency: any target in books without a functional currency,
  Beancount's units in books with one);
- every invoice's receivable equals what the source says is still owed (zero for a
  fully paid one), and the unapplied account holds exactly the payments of no invoice;
- the invoice-number series has no gap (zero invoices keep their numbers);
- deferred revenue (the mapping defers lines of 28 days or more): `recognize --through`
  after some syncs and after the last one, a second run posts nothing, reconcile finds
  the deferred balances equal to the schedules, and the books' deferred balance and
  recognized revenue per currency equal the oracle's own schedule of the source's lines
  (tests/oracle/deferred.py), with revenue plus deferred equal to the invoiced net.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson
from beancount import loader

from tests.e2e.books_cases import lines, make_books, write_export
from tests.e2e.conftest import Workspace

from . import deferred
from .histories import MINOR, History

Mode = Literal["multi", "functional"]

_ACCOUNTS = """\
timezone: {zone}
accounts:
  receivable: Assets:Receivable
  clearing: Assets:Stripe:Clearing
  fees: Expenses:Stripe:Fees
  refunds: Income:Refunds
  bank: Assets:Bank
  revenue: Income:Sales
  unapplied: Liabilities:Prepayments
{conversion}tax_rates:
  txr_std: Liabilities:VAT
{deferral}"""

_RATES = {"USD": Decimal("0.91"), "JPY": Decimal("0.0061"), "KWD": Decimal("2.98")}


def rate(cur: str, day: date) -> Decimal:
    """The EUR books' rate of `cur` on a day of March 2026 (a little drift every day)."""
    return (_RATES[cur] * (Decimal(1) + Decimal(day.day - 15) / 1000)).normalize()


def mapping_text(mode: Mode, zone: str = "UTC") -> str:
    """The oracle's mapping: transaction-currency books, or EUR books with daily rates;
    both defer lines with a service period of 28 days or more (days taken in `zone`)."""
    if mode == "multi":
        return _ACCOUNTS.format(
            conversion="  conversion: Equity:Conversions\n", deferral=deferred.DEFERRAL, zone=zone
        )
    rows = [
        f'    - {{date: 2026-03-{day:02d}, pair: {cur}/EUR, '
        f'rate: "{rate(cur, date(2026, 3, day)):f}"}}'
        for day in range(1, 32)
        for cur in _RATES
    ]  # fmt: skip
    rates = "\n".join(rows)
    return (
        _ACCOUNTS.format(conversion="", deferral=deferred.DEFERRAL, zone=zone)
        + "currency: EUR\nfx:\n  rates:\n"
        + rates
        + "\n  max_age_days: 31\n  gain: Income:FX-Gain\n  loss: Expenses:FX-Loss\n"
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """How a history reaches the books: unit order, export cut points, batch size, and
    the days revenue is recognized through (after some of the first syncs, after the last)."""

    order: tuple[int, ...]
    cuts: tuple[int, ...]  # export sizes (in units) of the syncs before the full one
    batch_size: int
    early: tuple[date | None, ...] = ()  # per cut: recognize through this day after its sync
    through: date | None = None  # recognize through this day at the end (>= every early one)
    zone: str = "UTC"  # the books' time zone: the days of service periods and documents


def run_history(root: Path, history: History, plan: Plan, *, target: str, mode: Mode) -> list[str]:
    """Every disagreement between the books and `history` (empty: the books are right)."""
    units = history.units()
    ordered = [units[i] for i in plan.order]
    books = make_books(root, target, [], mapping=mapping_text(mode, plan.zone))
    config = root / "billbridge.yaml"
    config.write_text(config.read_text() + f"batch_size: {plan.batch_size}\n")
    found: list[str] = []
    for k, cut in enumerate((*plan.cuts, len(ordered))):
        write_export(root, [obj for unit in ordered[:cut] for obj in unit])
        code, run = books.cli("sync")
        if code != 0:
            found.append(f"sync of {cut} units exited {code}: {run}")
        early = plan.early[k] if k < len(plan.early) else None
        if early is not None:
            found += _recognize(books, early)
    code, again = books.cli("sync")
    if again["posted"] != 0:
        found.append(f"a last sync posted {again['posted']} entries again")
    if plan.through is not None:
        found += _recognize(books, plan.through)
        found += _recognize(books, plan.through, again=True)
    _, queue = books.cli("queue")
    if queue:
        found.append(f"the queue is not empty: {[(r['record'], r['error']) for r in queue]}")
    code, report = books.cli("books", "check")
    if code != 0:
        found.append(f"books check failed: {report['targets'][0]['differences']}")
    if target == "beancount":
        _entries, errors, _ = loader.load_file(str(books.ledger))
        found += [f"bean-check: {e.message}" for e in errors]
    found += _numbers(books, history)
    rows = lines(books, target)
    if mode == "multi" or target == "beancount":
        found += _totals(rows, history)
        found += _receivables(rows, history, exact=True)
    else:
        found += _receivables(rows, history, exact=False)
    found += _deferred(books, rows, history, plan, target=target, mode=mode)
    return found


def _recognize(books: Workspace, through: date, *, again: bool = False) -> list[str]:
    code, run = books.cli("recognize", "--through", through.isoformat())
    if code != 0:
        return [f"recognize --through {through} exited {code}: {run}"]
    if again and run["posted"]:
        return [f"recognize --through {through} again posted {run['posted']} entries"]
    return []


def _deferred(
    books: Workspace,
    rows: list[tuple[str, str, str, str, str, Decimal]],
    history: History,
    plan: Plan,
    *,
    target: str,
    mode: Mode,
) -> list[str]:
    """The deferred-revenue checks: reconcile's, then the oracle's own schedule."""
    found = []
    through, parts = plan.through, deferred.legs(history, plan.zone)
    _code, report = books.cli("reconcile")
    for flow in report["flows"]:
        if flow.get("deferred") is not None and not flow["deferred"]["ok"]:
            found.append(f"reconcile: deferred balances differ: {flow['deferred']}")
        found += [
            f"reconcile: {d['kind']} {d['record_key']}: {d.get('message', '')}"
            for d in flow["discrepancies"]
            if d["kind"] in {"deferred_mismatch", "recognition_due"}
        ]
    if mode == "multi":
        return found + deferred.check_exact(rows, history, parts, through)
    if target == "beancount":  # the units: the transaction currency
        found += deferred.check_total(rows, history)
        return found + deferred.check_converted(rows, parts, through, functional="EUR",
                                                rate=None)  # fmt: skip
    return found + deferred.check_converted(rows, parts, through, functional="EUR", rate=rate)


def _facets(rows: list[tuple[str, str, str, str, str, Decimal]]) -> dict[str, Any]:
    """record -> facet -> (account, currency) -> amount."""
    out: dict[str, Any] = defaultdict(lambda: defaultdict(lambda: defaultdict(Decimal)))
    for _entry, idem, _record, account, currency, amount in rows:
        if idem:
            _flow, record, facet = idem.split("|")
            out[record.rsplit(":", 1)[1]][facet][account, currency] += amount
    return out


def _money(minor: int, cur: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR[cur])


def _sum(legs: dict[tuple[str, str], Decimal], accounts: tuple[str, ...], cur: str) -> Decimal:
    return sum((v for (a, c), v in legs.items() if a in accounts and c == cur), Decimal(0))


def _totals(rows: list[tuple[str, str, str, str, str, Decimal]], history: History) -> list[str]:
    facets = _facets(rows)
    source: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    books: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rec, una, refunds = "Assets:Receivable", "Liabilities:Prepayments", "Income:Refunds"
    for inv in history.invoices:
        cur = inv.currency.upper()
        if inv.status != "void":
            source["invoiced"][cur] += _money(inv.total, inv.currency)
        for facet in ("issue", "void"):
            books["invoiced"][cur] += _sum(facets[inv.id][facet], (rec,), cur)
    for pay in history.payments:
        cur = pay.currency.upper()
        source["paid"][cur] += _money(pay.amount, pay.currency)
        for facet in ("payment", "prepayment"):
            books["paid"][cur] -= _sum(facets[pay.id][facet], (rec, una), cur)
    for ref in history.refunds:
        pay = history.payment(ref.payment)
        cur = pay.currency.upper()
        source["refunded"][cur] += _money(ref.amount, pay.currency)
        books["refunded"][cur] += _sum(facets[ref.id]["refund"], (refunds,), cur)
    for cn in history.credit_notes:
        inv = history.invoice(cn.invoice)
        cur = inv.currency.upper()
        if cn.voided_at is None:
            source["credited"][cur] += _money(cn.total, inv.currency)
        for facet in ("credit", "credit-void"):
            books["credited"][cur] -= _sum(facets[cn.id][facet], (rec, refunds), cur)
    found = []
    for what in ("invoiced", "paid", "refunded", "credited"):
        want = {c: v for c, v in source[what].items() if v}
        have = {c: v for c, v in books[what].items() if v}
        if want != have:
            found.append(f"{what}: source {_show(want)}, books {_show(have)}")
    held = defaultdict(Decimal)
    for _e, _i, _r, account, cur, amount in rows:
        if account == una:
            held[cur] += amount
    want_unapplied = defaultdict(Decimal)
    for pay in history.payments:
        if pay.invoice is None:
            want_unapplied[pay.currency.upper()] -= _money(pay.amount, pay.currency)
    if {c: v for c, v in held.items() if v} != {c: v for c, v in want_unapplied.items() if v}:
        found.append(f"unapplied: source {_show(want_unapplied)}, books {_show(held)}")
    return found


def _receivables(
    rows: list[tuple[str, str, str, str, str, Decimal]], history: History, *, exact: bool
) -> list[str]:
    """Each invoice's receivable, summed over its own, its payments' and its notes' entries.

    `exact`: in the transaction currency, equal to what the source says is owed. Otherwise
    (functional-currency amounts only) zero is checked for invoices settled in full
    without credit notes, whose legs all convert at the invoice's own rate.
    """
    facets = _facets(rows)
    found = []
    for inv in history.invoices:
        cur = inv.currency.upper()
        records = [inv.id]
        records += [p.id for p in history.payments if p.invoice == inv.id]
        notes = [cn for cn in history.credit_notes if cn.invoice == inv.id]
        records += [cn.id for cn in notes]
        legs: dict[str, Decimal] = defaultdict(Decimal)
        for record in records:
            for facet_legs in facets[record].values():
                for (account, currency), amount in facet_legs.items():
                    if account == "Assets:Receivable":
                        legs[currency] += amount
        have = {c: v for c, v in legs.items() if v}
        if exact:
            owed = 0 if inv.status == "void" else inv.total
            owed -= sum(p.amount for p in history.payments if p.invoice == inv.id)
            owed -= sum(cn.total for cn in notes if cn.refund is None and cn.voided_at is None)
            want = {cur: _money(owed, inv.currency)} if owed else {}
            if have != want:
                found.append(f"receivable of {inv.id}: source {_show(want)}, books {_show(have)}")
        elif not notes and inv.status == "paid" and have:
            found.append(f"receivable of paid {inv.id} is {_show(have)}, not zero")
    return found


def _numbers(books: Workspace, history: History) -> list[str]:
    _code, numbers = books.cli("numbers")
    series = {s["series"]: s for s in numbers.get("series", [])}
    held = series.get("H-")
    if held is None:
        return [f"no H- series in {orjson.dumps(numbers).decode()}"]
    found = []
    if held["gaps"]:
        found.append(f"invoice-number gaps: {held['gaps']}")
    if held["count"] != len(history.invoices):
        found.append(f"{held['count']} invoice numbers seen, {len(history.invoices)} issued")
    return found


def _show(values: dict[str, Decimal]) -> str:
    return ", ".join(f"{v:f} {c}" for c, v in sorted(values.items()) if v) or "0"
