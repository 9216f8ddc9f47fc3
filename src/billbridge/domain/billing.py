"""Canonical billing records: what every connector's data is normalized into.

Why one canonical shape: posting rules, ownership checks and reconciliation are written
once against these values, not once per source system. Source-specific quirks (Stripe
API versions, CSV layouts) stop at `formats/`. Every value is frozen and keyword-only,
with tuples inside, so a record seen by the engine cannot change under it.

`validate_*` functions return problems as values; they never raise for bad data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, Rounded
from enum import StrEnum
from typing import Final

from .frozen import fast_init
from .money import MAX_DIGITS, Money
from .problems import Problem

__all__ = [
    "Address",
    "Canonical",
    "CreditNote",
    "CreditNoteLine",
    "Customer",
    "Deal",
    "Deleted",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "Payment",
    "Payout",
    "Refund",
    "TaxAmount",
    "validate_invoice",
]


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    country: str = ""
    region: str = ""
    city: str = ""
    postal_code: str = ""
    line1: str = ""
    line2: str = ""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    id: str
    name: str
    email: str = ""
    tax_id: str = ""
    address: Address = Address()
    currency: str = ""
    entity: str = "default"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class TaxAmount:
    """Tax charged on a line: `rate` is the source system's rate id (mapped to an account)."""

    rate: str
    amount: Money
    percentage: Decimal | None = None
    inclusive: bool = False
    jurisdiction: str = ""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceLine:
    id: str
    description: str
    quantity: Decimal
    amount: Money  # net of tax unless taxes are inclusive; before discounts
    discount: Money
    taxes: tuple[TaxAmount, ...] = ()
    product: str = ""
    unit_amount: Decimal | None = None
    # The service period (Stripe `period.start`/`period.end`; the end is the first moment
    # not served), as instants: the mapping takes its days in the entity's time zone.
    period_start: datetime | None = None
    period_end: datetime | None = None
    tax_code: str = ""  # the source's product tax code (Stripe `txcd_…`), if any


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice:
    id: str
    number: str
    customer: str
    customer_name: str
    currency: str
    status: InvoiceStatus
    created: datetime
    lines: tuple[InvoiceLine, ...]
    subtotal: Money
    tax: Money
    total: Money
    amount_paid: Money
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    due_date: date | None = None
    series: str = ""
    entity: str = "default"
    customer_country: str = ""
    customer_tax_id: str = ""
    customer_region: str = ""  # state / province / region code, for tax by jurisdiction
    tax_exempt: str = ""  # the source's exemption status: "", "none", "exempt" or "reverse"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CreditNoteLine:
    id: str
    description: str
    amount: Money  # net of tax
    taxes: tuple[TaxAmount, ...] = ()
    invoice_line: str = ""
    product: str = ""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CreditNote:
    id: str
    number: str
    invoice: str
    customer: str
    currency: str
    created: datetime
    lines: tuple[CreditNoteLine, ...]
    total: Money
    refund_amount: Money  # the part paid back as a refund (credit clearing, not receivable)
    status: str = "issued"
    voided_at: datetime | None = None
    reason: str = ""
    entity: str = "default"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """Money received for an invoice (a Stripe charge): gross = fee + net.

    `gross` is in the currency the customer paid (the invoice's). When the payment is
    settled in another currency (`settled`, the amount the gateway credited, e.g. 107.10
    EUR for 119.00 USD at its `exchange_rate`), `fee` and `net` are in the settlement
    currency and settled = fee + net. `intent` names the payment intent, the handle a
    later link to an invoice uses.
    """

    id: str
    invoice: str
    customer: str
    created: datetime
    gross: Money
    fee: Money
    net: Money
    method: str = ""
    status: str = "succeeded"
    balance_transaction: str = ""
    entity: str = "default"
    settled: Money | None = None
    exchange_rate: Decimal | None = None
    intent: str = ""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Refund:
    id: str
    payment: str
    invoice: str
    created: datetime
    amount: Money
    fee_refunded: Money | None = None
    status: str = "succeeded"
    reason: str = ""
    entity: str = "default"
    settled: Money | None = None  # paid back in the settlement currency, when it differs


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Payout:
    id: str
    created: datetime
    arrival_date: date
    amount: Money
    status: str
    destination: str = ""
    entity: str = "default"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Deal:
    """A sale agreed in a CRM: an account (`customer`) takes a `plan` for an `amount`.

    Why canonical: a won deal (or a plan changed on it) is what starts a subscription in
    a billing system. `plan` is the billing system's plan id as the CRM records it;
    `amount` is what the deal is worth per period (None when the CRM has no amount).
    A deal posts nothing to the books: its invoices do.
    """

    id: str
    name: str
    customer: str
    stage: str
    won: bool
    plan: str = ""
    amount: Money | None = None
    closed_on: date | None = None
    entity: str = "default"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Deleted:
    """A record the source no longer holds (deleted there): `object` and `id` name it.

    Why a value and not an absence: billbridge never cascades a deletion into another
    system or the books; the record flow archives what it linked and reports it, and
    that needs the deletion to travel down the path like any other change.
    """

    id: str
    object: str


Canonical = Customer | Invoice | CreditNote | Payment | Refund | Payout | Deal | Deleted
"""Every canonical object a source's normalizer may produce; the engine sees only these."""


# Exact sums of amounts at one exponent, refusing (by trapping `Rounded`) any result
# that would need more than MAX_DIGITS digits: exactly the sums `Money` accepts.
_EXACT: Final = Context(
    prec=MAX_DIGITS, traps=[InvalidOperation, DivisionByZero, Overflow, Rounded]
)
_ZERO: Final = Decimal(0)


def _agrees(invoice: Invoice) -> bool:
    """True when `validate_invoice` would find nothing: the common case, checked cheaply.

    The same sums in the same order as `_invoice_problems`, on the plain Decimals
    (every Money amount of one currency has the currency's exponent, so each sum is
    exact, and one too large for Money raises `Rounded` here as it raises there).
    Anything else (another currency, a mismatch, an overflow) answers False, and the
    full check then says what is wrong in its own words.
    """
    cur = invoice.currency
    if (
        invoice.subtotal.currency != cur
        or invoice.tax.currency != cur
        or invoice.total.currency != cur
        or invoice.amount_paid.currency != cur
    ):
        return False
    add = _EXACT.add
    sub = _EXACT.subtract
    net = tax = inclusive = _ZERO
    try:
        for line in invoice.lines:
            if line.amount.currency != cur or line.discount.currency != cur:
                return False
            net = sub(add(net, line.amount.amount), line.discount.amount)
            for t in line.taxes:
                if t.amount.currency != cur:
                    return False
                tax = add(tax, t.amount.amount)
                if t.inclusive:
                    inclusive = add(inclusive, t.amount.amount)
        expected_total = sub(add(net, tax), inclusive)
    except Rounded:
        return False
    return expected_total == invoice.total.amount and tax == invoice.tax.amount


def validate_invoice(invoice: Invoice, *, record: str) -> tuple[Problem, ...]:
    """The invoice's own arithmetic: lines, tax and total must agree to the minor unit."""
    if _agrees(invoice):
        return ()
    return _invoice_problems(invoice, record=record)


def _invoice_problems(invoice: Invoice, *, record: str) -> tuple[Problem, ...]:
    problems: list[Problem] = []
    cur = invoice.currency
    for name in ("subtotal", "tax", "total", "amount_paid"):
        amount: Money = getattr(invoice, name)
        if amount.currency != cur:
            problems.append(
                Problem(
                    record=record,
                    field=name,
                    message=f"{name} is in {amount.currency} but the invoice is in {cur}",
                    hint="an invoice has one currency; check the source data",
                )
            )
    if problems:
        return tuple(problems)
    net = Money.zero(cur)
    tax = Money.zero(cur)
    inclusive_tax = Money.zero(cur)
    for line in invoice.lines:
        if line.amount.currency != cur:
            problems.append(
                Problem(
                    record=record,
                    field=f"lines[{line.id}].currency",
                    message=f"line {line.id} is in {line.amount.currency}, invoice in {cur}",
                    hint="an invoice has one currency; check the source data",
                )
            )
            continue
        odd = [
            (f"lines[{line.id}].discount", line.discount),
            *((f"lines[{line.id}].taxes[{t.rate}]", t.amount) for t in line.taxes),
        ]
        for field, money in odd:
            if money.currency != cur:
                problems.append(
                    Problem(
                        record=record,
                        field=field,
                        message=f"{field} is in {money.currency}, invoice in {cur}",
                        hint="an invoice has one currency; check the source data",
                    )
                )
        if problems:
            continue
        net = net + line.amount - line.discount
        for t in line.taxes:
            tax = tax + t.amount
            if t.inclusive:
                inclusive_tax = inclusive_tax + t.amount
    if problems:
        return tuple(problems)
    expected_total = net + tax - inclusive_tax
    if expected_total != invoice.total:
        problems.append(
            Problem(
                record=record,
                field="total",
                message=f"invoice {invoice.id}: lines sum to {expected_total} "
                f"but total is {invoice.total}",
                hint="the source invoice is inconsistent; correct it in the source system "
                "and replay, or dismiss it",
            )
        )
    if tax != invoice.tax:
        problems.append(
            Problem(
                record=record,
                field="tax",
                message=f"invoice {invoice.id}: line taxes sum to {tax} but tax is {invoice.tax}",
                hint="the source invoice is inconsistent; correct it in the source system "
                "and replay",
            )
        )
    return tuple(problems)
