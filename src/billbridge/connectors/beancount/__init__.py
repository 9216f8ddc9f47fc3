"""The Beancount target: billbridge's postings appended to files the user's ledger includes.

Why a package of private modules: rendering (`_render`), light file scans (`_scan`), the
crash-safe target (`_target`) and loader-based checks (`_check`) change for different
reasons; this module is the one public surface.
"""

from __future__ import annotations

from ._check import balances, load, posted_keys
from ._lines import ledger_lines
from ._render import account_problem, render_entries
from ._scrub import scrub_entries
from ._target import ACCOUNTS_FILE, ENTRIES_FILE, BeancountTarget

__all__ = [
    "ACCOUNTS_FILE",
    "ENTRIES_FILE",
    "BeancountTarget",
    "account_problem",
    "balances",
    "ledger_lines",
    "load",
    "posted_keys",
    "render_entries",
    "scrub_entries",
]
