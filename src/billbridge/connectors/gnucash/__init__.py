"""The GnuCash target: journal entries as transactions in a GnuCash book (SQLite), via piecash.

Optional: install `billbridge[gnucash]`. piecash pins SQLAlchemy < 1.5, which is why the
core install (and the state store) never depends on SQLAlchemy.
"""

from __future__ import annotations

from importlib.util import find_spec

from billbridge.config import GnuCashConnection

from ..base import TargetConnector
from ..spec import ConnectorSpec
from ._accounts import account_type, gnucash_name
from ._read import balances, ledger_lines, posted_keys, record_counts
from ._scrub import scrub_book
from ._target import GnuCashTarget


def _piecash_missing() -> bool:
    """piecash is imported only when a book is opened; here it is only looked for."""
    try:
        return find_spec("piecash") is None
    except (ImportError, ValueError):
        return True


if _piecash_missing():  # the entry point `gnucash` fails, naming the extra to install
    raise ModuleNotFoundError("No module named 'piecash'", name="piecash")

__all__ = [
    "SPEC",
    "GnuCashTarget",
    "account_type",
    "balances",
    "gnucash_name",
    "ledger_lines",
    "posted_keys",
    "record_counts",
    "scrub_book",
]


def _target(name: str, conn: GnuCashConnection) -> TargetConnector:
    return GnuCashTarget(name, conn.path, currency=conn.currency)


# The entry point `gnucash` names this spec: without piecash this module cannot be
# imported, and only a workspace with `connector: gnucash` is told to install the extra.
SPEC = ConnectorSpec(
    name="gnucash",
    config=GnuCashConnection,
    role="target",
    factory=_target,
    ledger_lines=lambda conn: ledger_lines(conn.path),
    scrub=lambda conn, texts: scrub_book(conn.path, texts),
)
