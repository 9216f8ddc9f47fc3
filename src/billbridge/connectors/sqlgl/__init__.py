"""The SQL general-ledger target: `journal` and `journal_line` tables in a database the user names.

For teams whose accounting system imports from a database. billbridge creates the two
tables (SQLite or PostgreSQL), one `journal` row per journal entry with a unique
idempotency key, one `journal_line` row per posting with the amount as an exact decimal
(PostgreSQL NUMERIC, SQLite TEXT). The schema is documented in the README.
"""

from __future__ import annotations

from ._db import Database, connect
from ._read import balances, ledger_lines, posted_keys, record_counts
from ._scrub import scrub_journal
from ._target import SqlLedgerTarget

__all__ = [
    "Database",
    "SqlLedgerTarget",
    "balances",
    "connect",
    "ledger_lines",
    "posted_keys",
    "record_counts",
    "scrub_journal",
]
