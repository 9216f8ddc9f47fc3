"""Checks of customers, credit notes and payments: what is wrong, as values.

Why separate checks: a record that parses can still be inconsistent (a payment whose fee
and net do not add up to its gross) or doubtful (a VAT number with a bad check digit).
Inconsistent arithmetic is an `error` problem: posting it would put a wrong number in the
books. Doubtful party data is a `warning`: the invoice is still owed and still posts, and
the person who owns the queue sees the warning and checks it with the customer.

VAT numbers are checked offline with python-stdnum (format and check digits only; whether
a number is registered is a question for VIES, which is I/O and not the domain's job).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Final

from babel import Locale
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat

from .billing import CreditNote, Customer, Payment, TaxAmount
from .money import Money, is_currency
from .problems import Problem, Severity

if TYPE_CHECKING:
    from stdnum.util import NumberValidationModule

__all__ = [
    "is_country",
    "validate_credit_note",
    "validate_customer",
    "validate_payment",
    "validate_tax_id",
]

# CLDR territory codes that are two letters but not ISO 3166-1 alpha-2 assignments:
# exceptional reservations (AC, CP, DG, EA, EU, EZ, IC, TA, UN), private-use codes
# (QO, XA, XB, XK, ZZ) and CLDR's own CQ.
_NOT_ISO_3166: Final = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"}
)

# The two-letter prefixes of EU VAT numbers (EL is Greece, XI Northern Ireland).
_EU_VAT_PREFIXES: Final = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) | {"EL"}

_VAT_HINT: Final = (
    "check the VAT number with the customer (EU numbers: the VIES service) and correct it "
    "in the source system; the record still posts"
)


@cache
def _iso_countries() -> frozenset[str]:
    territories = Locale("en").territories
    return frozenset(
        code
        for code in territories
        if isinstance(code, str)
        and len(code) == 2
        and code.isalpha()
        and code.isupper()
        and code not in _NOT_ISO_3166
    )


def is_country(code: str) -> bool:
    """True when `code` is an ISO 3166-1 alpha-2 country code in upper case ("DE")."""
    return isinstance(code, str) and code in _iso_countries()


def _vat_module(tax_id: str, country: str) -> tuple[str, NumberValidationModule] | None:
    """The stdnum module that can check `tax_id`, and the country it is checked for.

    The number's own prefix wins ("DE…" is a German number whoever holds it); without
    one, the customer's country says which national format to expect.
    """
    compact = tax_id.replace(" ", "").replace("-", "").replace(".", "").upper()
    prefix = compact[:2]
    if prefix.isalpha() and prefix in _EU_VAT_PREFIXES:
        return prefix, eu_vat
    for code in (prefix, country.upper()):
        if len(code) == 2 and code.isalpha():
            module = get_cc_module(code.lower(), "vat")
            if module is not None:
                return code, module
    return None


@lru_cache(maxsize=1 << 14)
def _vat_failure(tax_id: str, country: str) -> str | None:
    """The country `tax_id` fails the VAT check for; None if it passes or has no check.

    A pure function of the two strings as the customer record holds them, cached: a
    backfill checks the same customer's number once per invoice, and python-stdnum's
    check is the dearest step of it.
    """
    tax_id = tax_id.strip()
    if not tax_id:
        return None
    found = _vat_module(tax_id, country if is_country(country) else "")
    if found is None:
        return None
    where, module = found
    return None if module.is_valid(tax_id) else where


def validate_tax_id(
    tax_id: str, *, country: str, customer: str, record: str
) -> tuple[Problem, ...]:
    """A VAT id that fails its offline check, as a warning (the tax-id part of
    `validate_customer`, for callers that hold the number but no `Customer`).

    `country` is the customer's country (ignored unless ISO 3166-1); `customer` its id.
    """
    where = _vat_failure(tax_id, country)
    if where is None:
        return ()
    return (
        Problem(
            record=record,
            field="tax_id",
            message=f"customer {customer}: tax id {tax_id.strip()!r} is not a valid "
            f"{where} VAT number (wrong length, format or check digit)",
            hint=_VAT_HINT,
            severity=Severity.WARNING,
        ),
    )


def validate_customer(customer: Customer, *, record: str) -> tuple[Problem, ...]:
    """Doubtful party data as warnings: a VAT id that fails its check, a non-ISO country.

    Never an error: a customer with a mistyped VAT number still owes its invoices.
    """
    problems: list[Problem] = []
    country = customer.address.country
    if country and not is_country(country):
        problems.append(
            Problem(
                record=record,
                field="address.country",
                message=f"customer {customer.id}: country {country!r} is not an "
                "ISO 3166-1 alpha-2 code",
                hint="use the two-letter upper-case code, e.g. DE for Germany, in the source "
                "system or in the mapping's country table",
                severity=Severity.WARNING,
            )
        )
    problems.extend(
        validate_tax_id(customer.tax_id, country=country, customer=customer.id, record=record)
    )
    if customer.currency and not is_currency(customer.currency):
        problems.append(
            Problem(
                record=record,
                field="currency",
                message=f"customer {customer.id}: currency {customer.currency!r} is not an "
                "ISO 4217 code",
                hint="use the three-letter upper-case code, e.g. EUR",
                severity=Severity.WARNING,
            )
        )
    return tuple(problems)


def _currency_problems(
    amounts: Iterable[tuple[str, Money]], currency: str, *, record: str, what: str
) -> list[Problem]:
    return [
        Problem(
            record=record,
            field=field,
            message=f"{what}: {field} is in {amount.currency}, the rest of it in {currency}",
            hint="a document has one currency; check the source data",
        )
        for field, amount in amounts
        if amount.currency != currency
    ]


def _taxes(taxes: tuple[TaxAmount, ...], field: str) -> list[tuple[str, Money]]:
    return [(f"{field}.taxes[{t.rate}]", t.amount) for t in taxes]


def validate_credit_note(credit_note: CreditNote, *, record: str) -> tuple[Problem, ...]:
    """The credit note's own arithmetic: one currency, lines plus taxes equal the total,
    and no more refunded than credited."""
    cur = credit_note.currency
    what = f"credit note {credit_note.id}"
    amounts: list[tuple[str, Money]] = [
        ("total", credit_note.total),
        ("refund_amount", credit_note.refund_amount),
    ]
    for line in credit_note.lines:
        amounts.append((f"lines[{line.id}].amount", line.amount))
        amounts.extend(_taxes(line.taxes, f"lines[{line.id}]"))
    problems = _currency_problems(amounts, cur, record=record, what=what)
    if problems:
        return tuple(problems)
    expected = Money.zero(cur)
    for line in credit_note.lines:
        expected = expected + line.amount
        for tax in line.taxes:
            if not tax.inclusive:
                expected = expected + tax.amount
    if expected != credit_note.total:
        problems.append(
            Problem(
                record=record,
                field="total",
                message=f"{what}: lines and taxes sum to {expected} "
                f"but total is {credit_note.total}",
                hint="the source credit note is inconsistent; correct it in the source "
                "system and replay, or dismiss it",
            )
        )
    if credit_note.refund_amount.amount < 0:
        problems.append(
            Problem(
                record=record,
                field="refund_amount",
                message=f"{what}: refund amount {credit_note.refund_amount} is negative",
                hint="a refund is recorded as a positive amount; check the source data",
            )
        )
    if credit_note.refund_amount > credit_note.total:
        problems.append(
            Problem(
                record=record,
                field="refund_amount",
                message=f"{what}: refund amount {credit_note.refund_amount} is more than "
                f"its total {credit_note.total}",
                hint="a credit note cannot refund more than it credits; check the source "
                "credit note and its refunds",
            )
        )
    return tuple(problems)


def validate_payment(payment: Payment, *, record: str) -> tuple[Problem, ...]:
    """The payment's own arithmetic: one currency, no negative parts, gross = fee + net."""
    cur = payment.gross.currency
    what = f"payment {payment.id}"
    parts = [("gross", payment.gross), ("fee", payment.fee), ("net", payment.net)]
    problems = _currency_problems(parts[1:], cur, record=record, what=what)
    if problems:
        return tuple(problems)
    problems = [
        Problem(
            record=record,
            field=name,
            message=f"{what}: {name} {amount} is negative",
            hint="a payment's gross, fee and net are positive amounts; a reversal is a "
            "refund of its own; check the source data",
        )
        for name, amount in parts
        if amount.amount < 0
    ]
    if payment.fee + payment.net != payment.gross:
        problems.append(
            Problem(
                record=record,
                field="net",
                message=f"{what}: fee {payment.fee} plus net {payment.net} is "
                f"{payment.fee + payment.net}, not the gross {payment.gross}",
                hint="the source payment (its balance transaction) is inconsistent; "
                "correct the mapping of fee and net, or the source, and replay",
            )
        )
    return tuple(problems)
