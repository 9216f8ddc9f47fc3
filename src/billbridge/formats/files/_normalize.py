"""Rows of an export file → canonical `Invoice`, `CreditNote`, `Payment` and `Refund`.

Mirrors what the Stripe normalizer gives, from what a file holds: an invoice's lines
carry `TaxAmount(rate=<the tax_rate cell>)`, so the mapping's `tax_rates:` and
`products:` apply; a payment is gross, fee and net (net = gross - fee); a refund names
the payment it pays back. Nothing is invented: a total the file does not give is the sum
of its lines, a field the file lacks stays empty, and every cell that cannot be read as
declared is a problem naming file, line, column, the raw text and the format expected.

Dates are calendar dates; each becomes noon of that day in the connection's `timezone:`
(UTC unless declared), so the mapping's time zone shows the same day (within ±11 h).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from billbridge.domain import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Money,
    Payment,
    Problem,
    Refund,
    TaxAmount,
    is_country,
    validate_invoice,
)

from ._cells import RecordCells, Settings, cell_text

__all__ = ["STATUS_WORDS", "document", "identity", "payment", "refund"]

_ONE: Final = Decimal(1)

# How exports write an invoice's state (billbridge's words, Xero's, QuickBooks').
STATUS_WORDS: Final[Mapping[str, InvoiceStatus]] = {
    "draft": InvoiceStatus.DRAFT,
    "awaiting approval": InvoiceStatus.DRAFT,  # Xero: submitted, no accounting effect yet
    "deleted": InvoiceStatus.DRAFT,  # Xero deletes drafts only
    "open": InvoiceStatus.OPEN,
    "awaiting payment": InvoiceStatus.OPEN,
    "authorised": InvoiceStatus.OPEN,
    "unpaid": InvoiceStatus.OPEN,
    "sent": InvoiceStatus.OPEN,
    "overdue": InvoiceStatus.OPEN,
    "paid": InvoiceStatus.PAID,
    "void": InvoiceStatus.VOID,
    "voided": InvoiceStatus.VOID,
    "uncollectible": InvoiceStatus.UNCOLLECTIBLE,
}


def identity(kind: str, row: Mapping[str, Any]) -> str:
    """A record's id from its first row: the key column, else the document number."""
    if kind in ("invoice", "credit_note"):
        return cell_text(row.get("key", "")) or cell_text(row.get("number", ""))
    return cell_text(row.get("payment_id" if kind == "payment" else "refund_id", ""))


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _moment(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time(12), tzinfo=_zone(settings.timezone))


def _status(c: RecordCells) -> InvoiceStatus | None:
    word = c.same_text("status") if c.has("status") else ""
    if not word:
        return InvoiceStatus.OPEN
    status = STATUS_WORDS.get(" ".join(word.casefold().split()))
    if status is None:
        known = ", ".join(sorted(STATUS_WORDS))
        c.fail(0, "status", f"{word!r} is not an invoice status billbridge knows ({known})")
    return status


def _taxes(c: RecordCells, row: int, currency: str) -> tuple[TaxAmount, ...] | None:
    rate = c.text(row, "tax_rate")
    amount_text = c.text(row, "tax_amount")
    if not rate:
        if amount_text:
            amount = c.amount(row, "tax_amount", currency)
            if amount is not None and amount.amount:
                c.fail(
                    row,
                    "tax_amount",
                    f"a tax amount of {amount} with no tax rate",
                    "fill in the line's tax rate (a key of `tax_rates:` in the mapping)",
                )
        return ()
    if not amount_text:
        c.fail(
            row,
            "tax_amount" if c.has("tax_amount") else "tax_rate",
            f"the line has the tax rate {rate!r} but no tax amount; billbridge never "
            "computes tax from a rate's name",
            "give the tax amount of every taxed line (the tax_amount column)",
        )
        return None
    amount = c.amount(row, "tax_amount", currency)
    if amount is None:
        return None
    return (TaxAmount(rate=rate, amount=amount, inclusive=c.settings.tax_inclusive),)


def _line_amount(c: RecordCells, row: int, currency: str) -> Money | None:
    if c.text(row, "amount") or not (c.has("quantity") and c.has("unit_price")):
        return c.amount(row, "amount", currency)
    quantity = c.decimal(row, "quantity")
    price = c.decimal(row, "unit_price")
    if quantity is None or price is None:
        return None
    product = quantity * price
    try:
        return Money(product, currency)
    except ValueError:
        c.fail(
            row,
            "amount",
            f"the cell is empty and quantity x unit price = {product} has more decimals "
            f"than {currency} allows",
            "fill in the line's amount as invoiced",
        )
        return None


def _total(c: RecordCells, currency: str, computed: Money) -> Money | None:
    text = c.same_text("total") if c.has("total") else ""
    if not text:
        return computed
    total = c.amount(0, "total", currency)
    if total is not None and total != computed:
        c.fail(
            None,
            "total",
            f"the lines sum to {computed} but the total column says {total} "
            f"({cell_text(c.raw(0, 'total'))!r})",
            "correct the lines or the total in the file, then import it again",
        )
        return None
    return total


def _country(c: RecordCells) -> str:
    code = c.same_text("customer_country") if c.has("customer_country") else ""
    if code and not is_country(code.upper()):
        c.fail(0, "customer_country", f"{code!r} is not an ISO 3166 country code (such as DE)")
    return code.upper()


def document(
    data: Mapping[str, Any], *, record: str, settings: Settings, kind: str
) -> tuple[Invoice | CreditNote | None, tuple[Problem, ...]]:
    """An invoice or a credit note: the rows of one document, one line each."""
    c = RecordCells(data, record=record, settings=settings)
    if not c.rows:
        c.fail(None, "number", "the record has no rows")
        return None, tuple(c.problems)
    ident = identity(kind, c.rows[0])
    number = c.same_text("number")
    day = c.day(0, "date")
    c.same_text("date")
    currency = c.currency()
    if currency is None or day is None:
        return None, tuple(c.problems)
    lines: list[tuple[str, str, Decimal, Decimal | None, Money, tuple[TaxAmount, ...]]] = []
    for row in range(len(c.rows)):
        amount = _line_amount(c, row, currency)
        taxes = _taxes(c, row, currency)
        quantity = c.decimal(row, "quantity", empty_is=_ONE) if c.has("quantity") else _ONE
        price = c.decimal(row, "unit_price", empty_is=_ONE) if c.text(row, "unit_price") else None
        if amount is None or taxes is None or quantity is None:
            continue
        lines.append(
            (c.text(row, "description"), c.text(row, "product"), quantity, price, amount, taxes)
        )
    if c.problems:
        return None, tuple(c.problems)
    net = sum((line[4] for line in lines), Money.zero(currency))
    tax = sum((t.amount for line in lines for t in line[5]), Money.zero(currency))
    inclusive = sum(
        (t.amount for line in lines for t in line[5] if t.inclusive), Money.zero(currency)
    )
    total = _total(c, currency, net + tax - inclusive)
    created = _moment(day, settings)
    if kind == "credit_note":
        return _credit_note(c, ident, number, currency, created, lines, total)
    status = _status(c)
    country = _country(c)
    due = c.day(0, "due_date", optional=True) if c.has("due_date") else None
    paid_cell = c.text(0, "amount_paid") if c.has("amount_paid") else ""
    paid = c.amount(0, "amount_paid", currency) if paid_cell else None
    if total is None or status is None or c.problems:
        return None, tuple(c.problems)
    customer = c.same_text("customer_id") if c.has("customer_id") else ""
    name = c.same_text("customer_name") if c.has("customer_name") else ""
    invoice = Invoice(
        id=ident,
        number=number,
        customer=customer,
        customer_name=name or customer,
        currency=currency,
        status=status,
        created=created,
        lines=tuple(
            InvoiceLine(
                id=f"{ident}/{i + 1}",
                description=d,
                quantity=q,
                amount=a,
                discount=Money.zero(currency),
                taxes=t,
                product=p,
                unit_amount=u,
            )
            for i, (d, p, q, u, a, t) in enumerate(lines)
        ),
        subtotal=net,
        tax=tax,
        total=total,
        amount_paid=paid
        if paid is not None
        else (total if status is InvoiceStatus.PAID else Money.zero(currency)),
        due_date=due,
        customer_country=country,
        customer_tax_id=c.same_text("customer_tax_id") if c.has("customer_tax_id") else "",
    )
    problems = validate_invoice(invoice, record=record)
    return (None if problems else invoice), problems


def _credit_note(
    c: RecordCells,
    ident: str,
    number: str,
    currency: str,
    created: datetime,
    lines: list[tuple[str, str, Decimal, Decimal | None, Money, tuple[TaxAmount, ...]]],
    total: Money | None,
) -> tuple[CreditNote | None, tuple[Problem, ...]]:
    invoice = c.same_text("invoice_number")
    if not invoice:
        c.fail(0, "invoice_number", "the cell is empty; a credit note credits an invoice")
    refunded_text = c.same_text("refunded") if c.has("refunded") else ""
    refunded = c.amount(0, "refunded", currency) if refunded_text else Money.zero(currency)
    status = (c.same_text("status") if c.has("status") else "").casefold() or "issued"
    if status in ("voided",):
        status = "void"
    if status not in ("issued", "void"):
        c.fail(0, "status", f"{status!r} is not a credit note status (issued or void)")
    if total is not None and refunded is not None and refunded > total:
        c.fail(
            0, "refunded", f"the refunded part {refunded} exceeds the credit note's total {total}"
        )
    if c.problems or total is None or refunded is None:
        return None, tuple(c.problems)
    note = CreditNote(
        id=ident,
        number=number,
        invoice=invoice,
        customer=c.same_text("customer_id") if c.has("customer_id") else "",
        currency=currency,
        created=created,
        lines=tuple(
            CreditNoteLine(id=f"{ident}/{i + 1}", description=d, amount=a, taxes=t, product=p)
            for i, (d, p, _q, _u, a, t) in enumerate(lines)
        ),
        total=total,
        refund_amount=refunded,
        status=status,
        voided_at=created if status == "void" else None,
        reason=c.same_text("reason") if c.has("reason") else "",
    )
    return note, ()


def _positive(c: RecordCells, name: str, currency: str) -> Money | None:
    value = c.amount(0, name, currency)
    if value is not None and value.amount <= 0:
        c.fail(
            0,
            name,
            f"{cell_text(c.raw(0, name))!r} is not a positive amount",
            "a payment or refund is a positive amount; write a refund as a refund row",
        )
        return None
    return value


def payment(
    data: Mapping[str, Any], *, record: str, settings: Settings
) -> tuple[Payment | None, tuple[Problem, ...]]:
    """One row: money received (gross), the fee kept by whoever collected it, and net."""
    c = RecordCells(data, record=record, settings=settings)
    ident = c.required(0, "payment_id")
    day = c.day(0, "date")
    currency = c.currency()
    if currency is None:
        return None, tuple(c.problems)
    gross = _positive(c, "amount", currency)
    fee = (
        c.amount(0, "fee", currency, empty_is=Money.zero(currency))
        if c.has("fee")
        else (Money.zero(currency))
    )
    if fee is not None and gross is not None and not (0 <= fee.amount <= gross.amount):
        c.fail(0, "fee", f"the fee {fee} is not between zero and the amount {gross}")
    if c.problems or day is None or gross is None or fee is None:
        return None, tuple(c.problems)
    return Payment(
        id=ident,
        invoice=c.text(0, "invoice_number"),
        customer=c.text(0, "customer_id"),
        created=_moment(day, settings),
        gross=gross,
        fee=fee,
        net=gross - fee,
        method=c.text(0, "method"),
    ), ()


def refund(
    data: Mapping[str, Any], *, record: str, settings: Settings, invoice_of_payment: str | None
) -> tuple[Refund | None, tuple[Problem, ...]]:
    """One row: money paid back against a payment (`invoice_of_payment` from its row)."""
    c = RecordCells(data, record=record, settings=settings)
    ident = c.required(0, "refund_id")
    paid = c.required(0, "payment_id")
    day = c.day(0, "date")
    currency = c.currency()
    if currency is None:
        return None, tuple(c.problems)
    amount = _positive(c, "amount", currency)
    if c.problems or day is None or amount is None:
        return None, tuple(c.problems)
    return Refund(
        id=ident,
        payment=paid,
        invoice=c.text(0, "invoice_number") or invoice_of_payment or "",
        created=_moment(day, settings),
        amount=amount,
        reason=c.text(0, "reason"),
    ), ()
