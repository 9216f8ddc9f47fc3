"""Tax by jurisdiction: which account and report code a tax amount posts to.

Precedence, when several `tax_rules:` match a tax amount (a rule's empty keys match
anything; a rule whose `region` is set needs its `country` to match too):

1. a rule naming the tax rate id (`rate`) beats one naming the product tax code
   (`tax_code`), which beats one naming neither;
2. then a rule with `country` and `region` beats one with `country` only, which beats one
   with neither;
3. between rules equally specific, the one written first in the file wins.

With no matching rule the older `tax_rates:` table (rate id -> account) is used, with no
report code; with neither, the record fails naming the rate. Reverse charge: an invoice
the source marks `reverse` (Stripe `customer_tax_exempt`), or, for an entity with a
`country`, a B2B sale to another EU member state with a valid VAT id, posts no output
tax and is flagged on the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stdnum.eu import vat as eu_vat

from billbridge.domain import Invoice, Problem, validate_tax_id

from .books import TaxRule
from .model import Mapping

__all__ = ["Jurisdiction", "find_tax_rule", "is_reverse_charge", "vat_warnings"]

_EU: Final = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) - {"EL"} | {"GR"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Jurisdiction:
    country: str = ""
    region: str = ""


def _score(rule: TaxRule, rate: str, tax_code: str, where: Jurisdiction) -> tuple[int, int] | None:
    if rule.rate and rule.rate != rate:
        return None
    if rule.tax_code and rule.tax_code != tax_code:
        return None
    if rule.country and rule.country != where.country:
        return None
    if rule.region and (rule.region != where.region or not rule.country):
        return None
    ident = 2 if rule.rate else 1 if rule.tax_code else 0
    place = 2 if rule.region else 1 if rule.country else 0
    return ident, place


def find_tax_rule(
    mapping: Mapping, *, rate: str, tax_code: str, where: Jurisdiction
) -> TaxRule | None:
    """The most specific `tax_rules:` entry for this tax amount (see the module docstring)."""
    best: TaxRule | None = None
    best_score: tuple[int, int] = (-1, -1)
    for rule in mapping.tax_rules:
        score = _score(rule, rate, tax_code, where)
        if score is not None and score > best_score:  # strict: the earlier rule keeps a tie
            best, best_score = rule, score
    return best


def vat_warnings(inv: Invoice, *, record: str) -> tuple[Problem, ...]:
    """The invoice's customer VAT id checked by python-stdnum; a bad one is a warning.

    The same check and message as `validate_customer`'s, without building a `Customer`
    per invoice; the check itself is cached per number, so a customer's hundredth
    invoice costs a dictionary look-up.
    """
    return validate_tax_id(
        inv.customer_tax_id, country=inv.customer_country, customer=inv.customer, record=record
    )


def is_reverse_charge(inv: Invoice, *, home_country: str, vat_valid: bool) -> bool:
    if inv.tax_exempt == "reverse":
        return True
    return bool(
        home_country
        and vat_valid
        and inv.customer_tax_id.strip()
        and inv.customer_country in _EU
        and home_country in _EU
        and inv.customer_country != home_country
    )
