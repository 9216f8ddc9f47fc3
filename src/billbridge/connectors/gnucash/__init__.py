"""The GnuCash target: journal entries as transactions in a GnuCash book (SQLite), via piecash.

Optional: install `billbridge[gnucash]`. piecash pins SQLAlchemy < 1.5, which is why the
core install (and the state store) never depends on SQLAlchemy.
"""

from __future__ import annotations

from ._accounts import account_type, gnucash_name
from ._read import balances, ledger_lines, posted_keys, record_counts
from ._target import GnuCashTarget

__all__ = [
    "GnuCashTarget",
    "account_type",
    "balances",
    "gnucash_name",
    "ledger_lines",
    "posted_keys",
    "record_counts",
]
