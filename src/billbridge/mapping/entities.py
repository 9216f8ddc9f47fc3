"""Entities: which legal entity's books a record posts to, and that entity's accounts.

Why a view of the mapping per entity: the posting rules stay written against one
`Mapping`; routing picks the entity, then hands the rules a copy whose accounts carry the
entity's prefix (`Income:Sales` -> `Income:DE:Sales`) and whose `entity` and `currency`
are the entity's. A mapping without `entities:` is its own single entity, as before.

Entities are tried in file order and the first whose `match:` holds wins; an entity
without `match:` takes everything that reaches it. A record no entity takes fails and
the message lists every rule tried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from billbridge.domain import (
    Canonical,
    CreditNote,
    Customer,
    Deal,
    Deleted,
    Invoice,
    Payment,
    Payout,
    Problem,
)

from .books import EntityRule, TaxRule
from .model import Accounts, Mapping

__all__ = ["Facts", "facts_of", "prefixed", "role_accounts", "route"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What entity rules can match on; "" when the record does not say."""

    connection: str
    currency: str
    country: str


def facts_of(
    value: Canonical, *, connection: str, invoice: Callable[[str], Invoice | None]
) -> Facts:
    country = ""
    if isinstance(value, Invoice):
        currency, country = value.currency, value.customer_country
    elif isinstance(value, Customer):
        currency, country = value.currency, value.address.country
    elif isinstance(value, Payout):
        currency = value.amount.currency
    elif isinstance(value, Deal):
        currency = value.amount.currency if value.amount is not None else ""
    elif isinstance(value, Deleted):
        currency = ""
    else:
        if isinstance(value, CreditNote):
            currency, linked = value.currency, value.invoice
        elif isinstance(value, Payment):
            currency, linked = value.gross.currency, value.invoice
        else:
            currency, linked = value.amount.currency, value.invoice
        found = invoice(linked) if linked else None
        country = found.customer_country if found is not None else ""
    return Facts(connection=connection, currency=currency.upper(), country=country.upper())


def _matches(rule: EntityRule, facts: Facts) -> bool:
    m = rule.match
    return (
        (not m.connection or facts.connection in m.connection)
        and (not m.currency or facts.currency in m.currency)
        and (not m.country or facts.country in m.country)
    )


def prefixed(account: str, prefix: str) -> str:
    if not prefix:
        return account
    root, _, rest = account.partition(":")
    return f"{root}:{prefix}:{rest}"


def role_accounts(mapping: Mapping, roles: Iterable[str]) -> frozenset[str]:
    """The accounts of `roles` (keys of `accounts:`) under every entity's prefix."""
    named = mapping.accounts.model_dump()
    base = {named[r] for r in roles if named.get(r)}
    out = set(base)
    for entity in mapping.entities:
        out |= {prefixed(a, entity.prefix) for a in base}
    return frozenset(out)


_VIEWS: dict[tuple[int, str], tuple[Mapping, Mapping]] = {}


def _view(mapping: Mapping, entity: EntityRule) -> Mapping:
    cached = _VIEWS.get((id(mapping), entity.name))
    if cached is not None and cached[0] is mapping:
        return cached[1]
    _ = mapping.version, mapping.zone  # computed on the file's content, then shared by views
    p = entity.prefix
    accounts = Accounts.model_validate(
        {k: (v and prefixed(v, p)) for k, v in mapping.accounts.model_dump().items()}
    )
    fx = mapping.fx
    deferral = mapping.deferral
    view = mapping.model_copy(
        update={
            "entity": entity.name,
            "currency": entity.currency,
            "accounts": accounts,
            "products": {k: prefixed(v, p) for k, v in mapping.products.items()},
            "tax_rates": {k: prefixed(v, p) for k, v in mapping.tax_rates.items()},
            "tax_rules": [
                TaxRule.model_validate({**r.model_dump(), "account": prefixed(r.account, p)})
                for r in mapping.tax_rules
            ],
            "fx": None
            if fx is None
            else fx.model_copy(update={"gain": prefixed(fx.gain, p), "loss": prefixed(fx.loss, p)}),
            "deferral": None
            if deferral is None
            else deferral.model_copy(update={"account": prefixed(deferral.account, p)}),
        }
    )
    _VIEWS[(id(mapping), entity.name)] = (mapping, view)
    return view


def route(
    value: Canonical, mapping: Mapping, *, record: str, facts: Callable[[], Facts]
) -> tuple[Mapping, EntityRule | None] | Problem:
    """The mapping as the record's entity sees it, or a Problem listing the rules tried.

    `facts` is called only when the mapping has entities (it may look up an invoice).
    """
    if not mapping.entities:
        return mapping, None
    found = facts()
    for entity in mapping.entities:
        if _matches(entity, found):
            return _view(mapping, entity), entity
    tried = "; ".join(f"{e.name}: {e.match.describe()}" for e in mapping.entities)
    return Problem(
        record=record,
        field="entities",
        message=f"no entity in {mapping.path.name} takes this record (connection "
        f"{found.connection!r}, currency {found.currency or '?'}, customer country "
        f"{found.country or '?'}); rules tried: {tried}",
        hint=f"add a matching entity (or one without `match:` as the catch-all) to "
        f"{mapping.path}, then `billbridge replay {record}`",
    )
