"""The accounts a flow's ledger holds of its own, for `billbridge doctor`.

Why beside the wiring, not in the engine: only this layer knows connectors. A Beancount
ledger's own chart is what its files open, billbridge's two files aside (billbridge opens
what it posts to, so an account only billbridge opened is one nobody declared: often a
typo or a renamed account in the mapping). A ledger with no `open` of its own keeps no
chart, and is not checked. Other readable ledgers hold the accounts they have postings
on; an export folder cannot be read back, and is not checked.
"""

from __future__ import annotations

from pathlib import Path

from beancount.core import data as bc

from .config import BeancountConnection, Workspace
from .connectors.base import FatalError
from .connectors.beancount import load
from .connectors.beancount._target import ACCOUNTS_FILE, ENTRIES_FILE
from .engine.doctor import LedgerAccounts
from .wiring import ledger_lines

__all__ = ["ledger_accounts"]


def ledger_accounts(workspace: Workspace, flow: str) -> LedgerAccounts | None:
    """None when the ledger keeps no chart billbridge can read."""
    name = workspace.flow(flow).target
    conn = workspace.connections[name]
    if isinstance(conn, BeancountConnection):
        if not conn.path.exists():
            return None
        entries, _errors = load(conn.path)
        own = {
            entry.account
            for entry in entries
            if isinstance(entry, bc.Open)
            and Path(str(entry.meta.get("filename", ""))).name not in {ENTRIES_FILE, ACCOUNTS_FILE}
        }
        if not own:
            return None
        return LedgerAccounts(
            accounts=frozenset(own),
            where=f"which {conn.path.name} (with the files it includes, billbridge's own "
            "aside) does not open",
        )
    try:
        accounts = frozenset(line[3] for line in ledger_lines(workspace, flow))
    except FatalError:
        return None
    return LedgerAccounts(
        accounts=accounts, where=f"on which the {conn.connector} ledger {name} has no posting"
    )
