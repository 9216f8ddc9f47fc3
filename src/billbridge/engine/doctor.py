"""`billbridge doctor`: drift and gaps in a flow's mapping, found before they break a posting.

Why one report with a fix per line: a finance-ops person reads it on Monday morning and
acts on it line by line. Each finding names its flow, what (a tax rate, a rule, an
account, a draft, a queue row), why it matters, and the fix, in the words of the
mapping file and the CLI. The checks:

- tax rates, products, currencies and customer countries seen in the last N records
  with no mapping (a rate with no account, a product with no rule, a currency with no
  exchange rate to the entity's, a country that no country rule names, a record no
  entity takes);
- rules and accounts the last N records never used;
- mapped accounts the ledger does not hold (its own chart, not billbridge's opens);
- objects whose setup needs more than five mapped settings (where setups start to break);
- mapping drafts waiting to be tested or promoted;
- the oldest open queue row. HOOK: when `engine/causes.py` (queue causes and the
  clean-up estimate, built on another branch) is merged, `oldest_queue` should report
  the oldest open *cause* and today's clean-up estimate instead of one row.

It reads only: the store's snapshots and queue, the promoted mapping, the ledger's
accounts (given by the caller, which knows the connector).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billbridge.mapping.entities import prefixed
from billbridge.mapping.model import Mapping
from billbridge.store.base import Mappings, Queue, Records

from .doctor_scan import Scan, account_used, mapped_accounts, scan_records
from .mapping_change import FlowRef, history
from .mapping_test import SnapshotPlanner

__all__ = ["MAX_SETUP", "Finding", "LedgerAccounts", "diagnose", "oldest_queue"]


class DoctorState(Queue, Records, Mappings, Protocol):
    """The doctor reads recent snapshots, the queue and the mapping versions."""


MAX_SETUP = 5  # mapped settings per kind of object; more is where setups start to break


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    kind: str
    flow: str
    subject: str
    detail: str
    fix: str

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "flow": self.flow, "subject": self.subject,
                "detail": self.detail, "fix": self.fix}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerAccounts:
    """The accounts a ledger holds of its own, and how to name where they were read."""

    accounts: frozenset[str]
    where: str  # ends the finding's sentence: "…, which main.beancount does not open"


def _seen(scan: Scan, kind: str, what: str, count: int) -> str:
    example = scan.example.get(f"{kind}:{what}", "")
    return f"seen on {count} of the last {scan.records} records" + (
        f" (e.g. {example})" if example else ""
    )


def _gaps(ref: FlowRef, mapping: Mapping, scan: Scan) -> Iterable[Finding]:
    name, file = ref.name, ref.mapping_path.name
    then = f"then `billbridge mapping test {name}` and promote the new version"
    for rate, count in sorted(scan.unmapped_rates.items()):
        yield Finding(
            kind="unmapped_tax_rate", flow=name, subject=rate,
            detail=f"tax rate {rate} has no account: {_seen(scan, 'tax_rates', rate, count)}",
            fix=f"add `{rate}: Liabilities:…` under `tax_rates:` (or a `tax_rules:` entry) "
            f"in {file}, {then}",
        )  # fmt: skip
    for product, count in sorted(scan.products.items()):
        if product in mapping.products:
            continue
        fallback = mapping.accounts.revenue
        goes = f"posts to accounts.revenue ({fallback})" if fallback else "fails its records"
        yield Finding(
            kind="unmapped_product", flow=name, subject=product,
            detail=f"product {product} has no rule and {goes}: "
            f"{_seen(scan, 'products', product, count)}",
            fix=f"add `{product}: Income:…` under `products:` in {file}, {then}",
        )  # fmt: skip
    for pair, count in sorted(scan.missing_rates.items()):
        yield Finding(
            kind="unmapped_currency", flow=name, subject=pair.split("/")[0],
            detail=f"no {pair} exchange rate in the mapping: "
            f"{_seen(scan, 'currencies', pair, count)}",
            fix=f"add {pair} rates under `fx: rates:` (or in the `fx: file:`) of {file}, {then}",
        )  # fmt: skip
    named = {r.country for r in mapping.tax_rules if r.country}
    named |= {c for e in mapping.entities for c in e.match.country}
    if named:
        for country, count in sorted(scan.countries.items()):
            if country not in named:
                yield Finding(
                    kind="unmapped_country", flow=name, subject=country,
                    detail=f"customers in {country} and no tax rule or entity names it "
                    f"(they name {', '.join(sorted(named))}): "
                    f"{_seen(scan, 'countries', country, count)}",
                    fix=f"add a `tax_rules:` entry (or an entity `match: country:`) for "
                    f"{country} in {file}, or confirm the fallback it gets now",
                )  # fmt: skip
    for what, count in sorted(scan.unrouted.items()):
        yield Finding(
            kind="unrouted", flow=name, subject=what,
            detail=f"no entity takes records with {what}: {_seen(scan, 'unrouted', what, count)}",
            fix=f"add an entity that matches them (or one without `match:`) to {file}, {then}",
        )  # fmt: skip


def _unused(ref: FlowRef, mapping: Mapping, scan: Scan) -> Iterable[Finding]:
    name, file = ref.name, ref.mapping_path.name
    window = f"the last {scan.records} records never used it"
    fix = (f"remove it from {file} if it is obsolete (test and promote the change), or keep "
           "it for records still to come")  # fmt: skip
    rules = [(f"tax_rates.{k}", v) for k, v in mapping.tax_rates.items()
             if k not in scan.tax_rates_used]  # fmt: skip
    rules += [(f"products.{k}", v) for k, v in mapping.products.items() if k not in scan.products]
    rules += [(f"tax_rules[{i}]", r.account) for i, r in enumerate(mapping.tax_rules)
              if i not in scan.rules_used]  # fmt: skip
    rules += [(f"entities.{e.name}", e.match.describe()) for e in mapping.entities
              if e.name not in scan.entities_used]  # fmt: skip
    for where, what in rules:
        yield Finding(kind="unused_rule", flow=name, subject=where,
                      detail=f"{where} ({what}): {window}", fix=fix)  # fmt: skip
    accounts = {f"accounts.{k}": v for k, v in mapping.accounts.model_dump().items() if v}
    if mapping.fx is not None:
        accounts |= {"fx.gain": mapping.fx.gain, "fx.loss": mapping.fx.loss}
    for where, account in accounts.items():
        if not account_used(scan, mapping, account):
            yield Finding(kind="unused_account", flow=name, subject=where,
                          detail=f"{where} ({account}): {window}", fix=fix)  # fmt: skip


def _missing(ref: FlowRef, mapping: Mapping, ledger: LedgerAccounts) -> Iterable[Finding]:
    prefixes = [e.prefix for e in mapping.entities] or [""]
    for where, account in mapped_accounts(mapping).items():
        for prefix in dict.fromkeys(prefixes):
            full = prefixed(account, prefix)
            if full in ledger.accounts:
                continue
            yield Finding(
                kind="account_missing_in_ledger", flow=ref.name, subject=full,
                detail=f"{where} posts to {full}, {ledger.where}",
                fix=f"open {full} in your ledger (or correct {where} in "
                f"{ref.mapping_path.name}, then test and promote)",
            )  # fmt: skip


def _wide(ref: FlowRef, scan: Scan) -> Iterable[Finding]:
    for obj, needed in sorted(scan.setups.items()):
        if len(needed) > MAX_SETUP:
            yield Finding(
                kind="wide_setup", flow=ref.name, subject=obj,
                detail=f"{obj} records need {len(needed)} mapped settings "
                f"({', '.join(sorted(needed))}); past {MAX_SETUP} setups start to break",
                fix="split the setup (e.g. one flow and mapping per entity), and check every "
                f"change with `billbridge mapping test {ref.name}` before promoting it",
            )  # fmt: skip


def _drafts(
    store: DoctorState, ref: FlowRef, *, promoted: str, file_version: str
) -> Iterable[Finding]:
    if not ref.production:
        return  # a sandbox runs its drafts: nothing waits
    rows = history(store, ref, file_version=file_version)
    stored = {row.version for row in rows}
    for row in rows:
        if row.status != "draft" or row.parent != promoted:
            continue
        if row.tests:
            yield Finding(
                kind="draft_unpromoted", flow=ref.name,
                subject=row.version,
                detail=f"draft {row.version} by {row.author} was tested (#{row.tests[-1]}) but "
                "not promoted",
                fix=f"an approver other than {row.author}: `billbridge mapping promote "
                f"{ref.name} {row.version}` (or leave it, if it is not wanted)",
            )  # fmt: skip
        else:
            yield Finding(
                kind="draft_untested", flow=ref.name, subject=row.version,
                detail=f"draft {row.version} by {row.author} was never tested",
                fix=f"`billbridge mapping test {ref.name} --draft {row.version}`",
            )  # fmt: skip
    if file_version != promoted and file_version not in stored:
        yield Finding(
            kind="draft_untested", flow=ref.name, subject=file_version,
            detail=f"{ref.mapping_path.name} holds draft {file_version}, never tested; the "
            f"flow runs {promoted}",
            fix=f"`billbridge mapping test {ref.name}`, then an approver promotes it",
        )  # fmt: skip


def oldest_queue(store: DoctorState, ref: FlowRef, *, now: datetime) -> Finding | None:
    """The oldest open queue row of the flow (see the HOOK in the module docstring)."""
    rows = [r for r in store.open_exceptions(flow=ref.name) if r.first_seen is not None]
    if not rows:
        return None
    row = min(rows, key=lambda r: (r.first_seen, r.id))
    assert row.first_seen is not None
    days = (now - row.first_seen).days
    return Finding(
        kind="oldest_queue_row", flow=ref.name, subject=row.record_key,
        detail=f"queue row #{row.id} ({row.kind}) is the oldest open one, {days} day(s) old: "
        f"{row.error}",
        fix=row.hint or "see `billbridge queue`",
    )  # fmt: skip


def diagnose(
    store: DoctorState,
    ref: FlowRef,
    *,
    mapping: Mapping,
    promoted: str,
    file_version: str,
    planner: SnapshotPlanner,
    last: int,
    ledger: LedgerAccounts | None,
    now: datetime,
) -> list[Finding]:
    """Every finding for one flow, in a fixed order (gaps first, the queue last)."""
    scan = scan_records(store.flow_snapshots(ref.name, limit=last), mapping, planner)
    found = [*_gaps(ref, mapping, scan), *_unused(ref, mapping, scan)]
    if ledger is not None:
        found += _missing(ref, mapping, ledger)
    found += _wide(ref, scan)
    found += _drafts(store, ref, promoted=promoted, file_version=file_version)
    queue = oldest_queue(store, ref, now=now)
    return [*found, *([queue] if queue else [])]
