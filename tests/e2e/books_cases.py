"""Workspaces for issue 14's cases: one hand-built Stripe export, the same mapping, three ledgers.

Each case test builds its export from `tests/oracle/stripe_json.py`, syncs it through
the real CLI into Beancount, GnuCash or the SQL GL (the `target` fixture), and reads the
books back from the target itself (`ledger_lines`, the reader `books check` uses).
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from billbridge.connectors import beancount, gnucash, sqlgl
from billbridge.workspace_files import create_workspace

from .conftest import Workspace
from .ledgers import retarget

TARGETS = ("beancount", "gnucash", "sqlgl")

MAPPING = """\
timezone: Europe/Berlin
accounts:
  receivable: Assets:Receivable
  clearing: Assets:Stripe:Clearing
  fees: Expenses:Stripe:Fees
  refunds: Income:Refunds
  bank: Assets:Bank
  revenue: Income:Sales
  unapplied: Liabilities:Prepayments
tax_rates:
  txr_std: Liabilities:VAT
"""

FX_EUR = """\
currency: EUR
fx:
  rates:
    - {date: 2026-03-02, pair: USD/EUR, rate: "0.9000"}
    - {date: 2026-03-02, pair: JPY/EUR, rate: "0.006123"}
    - {date: 2026-03-02, pair: KWD/EUR, rate: "2.9871"}
  max_age_days: 31
  gain: Income:FX-Gain
  loss: Expenses:FX-Loss
"""


def make_books(
    root: Path, target: str, records: list[dict[str, Any]], *, mapping: str = MAPPING
) -> Workspace:
    """A workspace posting `records` to `target`, its state in a SQLite file beside it."""
    create_workspace(root, timezone="Europe/Berlin")
    (root / "mapping.yaml").write_text(mapping)
    write_export(root, records)
    ws = Workspace(root=root, state_url=f"sqlite:///{root / 'state.db'}")
    if target == "gnucash":
        pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
        retarget(ws, "    connector: gnucash\n    path: books/main.gnucash\n    currency: EUR")
    elif target == "sqlgl":
        retarget(ws, "    connector: sqlgl\n    url: sqlite:///books/ledger.db")
    return ws


def write_export(root: Path, records: list[dict[str, Any]]) -> None:
    (root / "exports" / "stripe.jsonl").write_bytes(
        b"\n".join(orjson.dumps(r) for r in records) + b"\n"
    )


def lines(ws: Workspace, target: str) -> list[tuple[str, str, str, str, str, Decimal]]:
    """Every posting the target holds: (entry, idempotency key, record, account, currency, amount).

    Beancount's amounts are the units as written (the transaction currency).
    """
    if target == "beancount":
        return [_units(line) for line in beancount.ledger_lines(ws.ledger)]
    if target == "gnucash":
        return list(gnucash.ledger_lines(ws.root / "books" / "main.gnucash"))
    return list(sqlgl.ledger_lines(f"sqlite:///{ws.root / 'books' / 'ledger.db'}"))


def _units(line: tuple[Any, ...]) -> tuple[str, str, str, str, str, Decimal]:
    """A Beancount line as written: its units when it carries them beside its weight."""
    if len(line) > 6:
        return (line[0], line[1], line[2], line[3], line[6], line[7])
    return (line[0], line[1], line[2], line[3], line[4], line[5])


def by_facet(
    rows: list[tuple[str, str, str, str, str, Decimal]],
) -> dict[str, dict[tuple[str, str], Decimal]]:
    """record|facet → (account, currency) → amount, for billbridge's own entries."""
    out: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for _entry, idem, _record, account, currency, amount in rows:
        if idem:
            _flow, record, facet = idem.split("|")
            out[f"{record}|{facet}"][account, currency] += amount
    return {k: dict(v) for k, v in out.items()}


def account_balance(
    rows: list[tuple[str, str, str, str, str, Decimal]], account: str
) -> dict[str, Decimal]:
    """currency → balance of `account` (and of its per-currency GnuCash children)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for _entry, _idem, _record, acc, currency, amount in rows:
        if acc == account or acc.startswith(account + ":"):
            out[currency] += amount
    return {c: v for c, v in out.items() if v}


def bean_check(ws: Workspace) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("bean-check")
    return subprocess.run(
        [str(exe), str(ws.ledger)], capture_output=True, text=True, check=False, timeout=120
    )
