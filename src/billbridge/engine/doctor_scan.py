"""What the last N records of a flow need from its mapping, and what of it they use.

Why a scan of stored snapshots: drift shows in the data before it breaks a posting (a
new tax rate, a product added to the catalogue, customers from a new country), and a
rule nobody uses any more is where the next wrong posting hides. Each recent record is
normalized once and planned under the mapping the flow runs; the scan notes which
tax rates, products, currencies and countries appeared, which rules and accounts the
plans used, and which mapping settings each kind of object needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from billbridge.domain import CreditNote, Invoice, Payment, Problem, Refund, TaxAmount
from billbridge.mapping.entities import Facts, facts_of, prefixed, route
from billbridge.mapping.model import Mapping
from billbridge.mapping.rules import Canonical, plan_entries
from billbridge.mapping.tax import Jurisdiction, find_tax_rule
from billbridge.store.base import RecordRow

from .mapping_test import SnapshotPlanner

__all__ = ["Scan", "mapped_accounts", "scan_records"]

OBJECT_NAMES = {Invoice: "invoice", CreditNote: "credit_note", Payment: "payment",
                Refund: "refund"}  # fmt: skip


@dataclass(slots=True)
class Scan:
    records: int = 0
    tax_rates: Counter[str] = field(default_factory=Counter)
    products: Counter[str] = field(default_factory=Counter)
    currencies: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)
    example: dict[str, str] = field(default_factory=dict)  # "tax_rates:x" -> a record key
    unmapped_rates: Counter[str] = field(default_factory=Counter)
    tax_rates_used: set[str] = field(default_factory=set)  # `tax_rates:` keys the rules took
    unrouted: Counter[str] = field(default_factory=Counter)  # "currency X, country Y"
    missing_rates: Counter[str] = field(default_factory=Counter)  # "USD/EUR"
    rules_used: set[int] = field(default_factory=set)  # indexes into tax_rules
    entities_used: set[str] = field(default_factory=set)
    accounts_used: set[str] = field(default_factory=set)
    setups: dict[str, set[str]] = field(default_factory=dict)  # object -> mapping settings


def mapped_accounts(mapping: Mapping) -> dict[str, str]:
    """Every account the mapping names, by where: `accounts.fees`, `tax_rates.txr_1`, …"""
    found = {f"accounts.{k}": v for k, v in mapping.accounts.model_dump().items() if v}
    found |= {f"products.{k}": v for k, v in mapping.products.items()}
    found |= {f"tax_rates.{k}": v for k, v in mapping.tax_rates.items()}
    found |= {f"tax_rules[{i}]": r.account for i, r in enumerate(mapping.tax_rules)}
    if mapping.fx is not None:
        found |= {"fx.gain": mapping.fx.gain, "fx.loss": mapping.fx.loss}
    return found


def _note(scan: Scan, kind: str, what: str, key: str) -> None:
    scan.example.setdefault(f"{kind}:{what}", key)


def _taxes(value: Canonical) -> Iterable[tuple[TaxAmount, str]]:
    if isinstance(value, Invoice | CreditNote):
        for line in value.lines:
            code = line.tax_code if isinstance(value, Invoice) else ""  # type: ignore[union-attr]
            for tax in line.taxes:
                yield tax, code


def _where(value: Canonical, planner: SnapshotPlanner) -> Jurisdiction:
    invoice = value if isinstance(value, Invoice) else None
    if isinstance(value, CreditNote) and value.invoice:
        invoice = planner.invoice(value.invoice)
    if invoice is None:
        return Jurisdiction()
    return Jurisdiction(country=invoice.customer_country, region=invoice.customer_region)


def _facts(scan: Scan, value: Canonical, key: str, mapping: Mapping,
           planner: SnapshotPlanner) -> None:  # fmt: skip
    if isinstance(value, Invoice | CreditNote):
        for product in {line.product for line in value.lines if line.product}:
            scan.products[product] += 1  # counted per record
            _note(scan, "products", product, key)
        where = _where(value, planner)
        unmapped: set[str] = set()
        for rate in {tax.rate for tax, _code in _taxes(value)}:
            scan.tax_rates[rate] += 1
            _note(scan, "tax_rates", rate, key)
        for tax, code in _taxes(value):
            rule = find_tax_rule(mapping, rate=tax.rate, tax_code=code, where=where)
            if rule is not None:
                scan.rules_used.add(mapping.tax_rules.index(rule))
            elif tax.rate in mapping.tax_rates:
                scan.tax_rates_used.add(tax.rate)
            else:
                unmapped.add(tax.rate)
        scan.unmapped_rates.update(unmapped)
        if where.country:
            scan.countries[where.country] += 1
            _note(scan, "countries", where.country, key)
    facts = facts_of(value, connection=planner.connection, invoice=planner.invoice)
    if facts.currency:
        scan.currencies[facts.currency] += 1
        _note(scan, "currencies", facts.currency, key)


def _setup(scan: Scan, value: Canonical, view: Mapping, entity: bool, accounts: set[str]) -> None:
    """The mapping settings this record's entries needed (for `doctor`'s width check)."""
    names = OBJECT_NAMES.get(type(value))
    if names is None:
        return
    needed = scan.setups.setdefault(names, set())
    by_account: dict[str, set[str]] = {}
    for where, account in mapped_accounts(view).items():
        section = where if where.startswith(("accounts.", "fx.")) else where.split(".")[0]
        section = section.split("[")[0]
        by_account.setdefault(account, set()).add(section)
    for account in accounts:
        needed.update(by_account.get(account, ()))
    if entity:
        needed.add("entities")
    if view.currency is not None and any(s.startswith("fx.") for s in needed):
        needed.add("fx.rates")


def _given(facts: Facts) -> Callable[[], Facts]:
    return lambda: facts


def scan_records(rows: list[RecordRow], mapping: Mapping, planner: SnapshotPlanner) -> Scan:
    """Plan each stored record under `mapping` and note what it needed and used."""
    scan = Scan()
    planner.remember(rows)
    for row in rows:
        value = planner.value(row)
        if value is None:
            continue
        scan.records += 1
        _facts(scan, value, row.key, mapping, planner)
        facts = facts_of(value, connection=planner.connection, invoice=planner.invoice)
        routed = route(value, mapping, record=row.key, facts=_given(facts))
        if isinstance(routed, Problem):
            what = f"currency {facts.currency or '?'}, country {facts.country or '?'}"
            scan.unrouted[what] += 1
            _note(scan, "unrouted", what, row.key)
            continue
        view, entity = routed
        if entity is not None:
            scan.entities_used.add(entity.name)
        functional = view.currency
        if functional and facts.currency and facts.currency != functional:
            pairs = set(mapping.rate_table.pairs())
            if (facts.currency, functional) not in pairs and (functional, facts.currency) \
                    not in pairs:  # fmt: skip
                scan.missing_rates[f"{facts.currency}/{functional}"] += 1
                _note(scan, "currencies", f"{facts.currency}/{functional}", row.key)
        plan = plan_entries(value, mapping, planner.context(row))
        accounts = {p.account for item in plan.entries for p in item.entry.postings}
        scan.accounts_used |= accounts
        _setup(scan, value, view, entity is not None, accounts)
    return scan


def account_used(scan: Scan, mapping: Mapping, account: str) -> bool:
    """Whether the scan's plans posted to `account` (under any entity's prefix)."""
    prefixes = [""] + [e.prefix for e in mapping.entities if e.prefix]
    return any(prefixed(account, p) in scan.accounts_used for p in prefixes)
