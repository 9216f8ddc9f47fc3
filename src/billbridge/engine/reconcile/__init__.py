"""Reconcile: compare what the source says now, what billbridge posted, and what the books hold.

Why three views and a pure comparison: each system can drift on its own (Stripe voids an
invoice after it synced, a person retypes an amount in the ledger, someone pastes an
entry twice), and only a record-by-record comparison of all three says which one moved
and so who owns the fix. The views are gathered at the edges (`_collect`) and fixes applied
there (`_fix`); `_checks` only compares values, so every discrepancy kind is tested
without any I/O.

Memory: `collect` writes each view to a scratch SQLite file for the length of one
reconcile (`_scratch`, `_tables`), as sorted rows, and the checks read them back in key
order (`joined` merges the three views of every entry in one pass), so a history of
millions of records is compared with bounded memory. The views' collections are
ordinary mappings and sets, so hand-made views of dicts (the unit tests) compare alike.

Extension point: `CHECKS` holds every check as a plain function `(views) -> findings`.
Checks owned by other parts register with `register_check` and their findings flow
through the same output, `--fix` (use fix "queue" unless the fix is certain, "none" for
a finding that is only reported), the stored findings, alerts and reports; e.g.

    @register_check
    def my_check(views: Views) -> Iterator[Discrepancy]:
        ...  # yield Discrepancy(kind="my_kind", fix="queue", ...)

A check reads `views` the way the built-in ones do: `ordered(mapping)` for key order, a
look-up per key, never `dict(...)` or `sorted(...)` of a whole view.

A source's own checks (Stripe's payout sums) come with its source model (`checks`) and
are reported by `source_findings`. The invoice-number checks of issue 5
(`number_duplicate`, `number_gap`) are registered this way in `_numbers`. A kind not in
`KINDS` sorts after the built-in ones.
"""

from __future__ import annotations

from . import _deferred as _deferred  # registers the deferred-balance check
from ._checks import CHECKS, Check, compare, joined, register_check
from ._collect import collect
from ._fix import FixReport, apply_fixes
from ._flow import Reconciled, reconcile_flow
from ._model import (
    KINDS,
    Discrepancy,
    Expected,
    Fix,
    LedgerView,
    NumberSeen,
    PostedView,
    SourceView,
    Views,
    reversal_key,
    reversed_of,
)
from ._numbers import number_duplicates, number_gaps, repeats
from ._report import reconcile_json, unowned
from ._scratch import ordered

__all__ = [
    "CHECKS",
    "KINDS",
    "Check",
    "Discrepancy",
    "Expected",
    "Fix",
    "FixReport",
    "LedgerView",
    "NumberSeen",
    "PostedView",
    "Reconciled",
    "SourceView",
    "Views",
    "apply_fixes",
    "collect",
    "compare",
    "joined",
    "number_duplicates",
    "number_gaps",
    "ordered",
    "reconcile_flow",
    "reconcile_json",
    "register_check",
    "repeats",
    "reversal_key",
    "reversed_of",
    "unowned",
]
