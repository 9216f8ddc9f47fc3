"""Reconcile and deferred revenue: recognition entries are expected, deferred balances checked.

Why here: a recognition entry (`<connection>:recognition:<invoice>`) has no source record
of its own, so the source view would call it an orphan. `with_recognition` adds every
recognition entry the schedules give and the store holds as posted to the expected
entries (an edited or deleted one is then found like any other entry), and the check
`deferred_balances` reports each invoice whose deferred balance in the books is not its
schedule's unrecognized remainder (engine/deferred_status.py):
- `recognition_due` (reported only): the difference is exactly the pieces due by the
  last `recognize --through` and not posted yet (a credit note synced since);
- `deferred_mismatch` (queued): anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, MutableSet
from datetime import datetime
from typing import Any

from billbridge.connectors.base import LedgerLeg, LedgerPosting
from billbridge.store.base import SyncState

from ..deferred import RECOGNITION
from ..deferred_status import DeferredStatus, deferred_status
from ..model import FlowRuntime
from ..pipeline import entry_hash
from ._checks import register_check
from ._model import Discrepancy, Expected, Views


def with_recognition(
    flow: FlowRuntime,
    store: SyncState,
    expected: MutableMapping[str, Expected],
    unplannable: MutableSet[str],
    posted: Mapping[str, tuple[str, str, datetime]],
    ledger: Iterable[LedgerPosting],
) -> DeferredStatus | None:
    """The deferred status, after adding the posted recognition entries to `expected`
    (and the invoices whose schedules fail to `unplannable`).

    A flow that never deferred anything (no `deferral:`, no recognition posted) is left
    as it is, without reading its schedules.
    """
    marker = f":{RECOGNITION}:"
    if flow.mapping.deferral is None and not any(marker in key for key in posted):
        return None
    status = deferred_status(flow, store, ledger)
    for item in status.posted:
        entry = item.entry
        expected[entry.key] = Expected(
            idempotency_key=entry.key,
            record_key=entry.source,
            facet=item.facet,
            link=entry.links[0] if entry.links else "",
            legs=tuple(
                LedgerLeg(account=p.account, amount=p.amount.amount, currency=p.amount.currency)
                for p in entry.postings
            ),
            entry_hash=entry_hash(entry),
        )
    for record in status.failing:
        unplannable.add(record)
    return status


@register_check
def deferred_balances(views: Views) -> Iterator[Discrepancy]:
    """An invoice whose deferred balance in the books is not its schedule's remainder."""
    status = views.deferred
    if status is None:
        return
    through = status.through.isoformat() if status.through else None
    for group in status.differing:
        row = group.balance
        base: dict[str, Any] = {
            "flow": views.flow,
            "record_key": group.record,
            "idempotency_key": f"{views.flow}|{group.record}|deferred:{row.account}:{row.currency}",
            "source_ref": group.record,
            "target_ref": views.ledger.target,
            "source_value": f"{row.schedules:f} {row.currency} (schedule)",
            "target_value": f"{row.books:f} {row.currency} (books)",
            "currency": row.currency,
        }
        if row.explained:
            yield Discrepancy(
                kind="recognition_due",
                owner=views.flow,
                fix="none",
                detail=f"invoice {group.invoice}: {row.account} holds {row.books:f} "
                f"{row.currency}; recognition through {through} is due and not posted yet, "
                f"after which it holds {row.schedules:f} {row.currency}",
                hint=f"billbridge recognize --through {through} (the worker does it monthly)",
                **base,
            )
            continue
        yield Discrepancy(
            kind="deferred_mismatch",
            owner=views.ledger.target,
            fix="queue",
            detail=f"invoice {group.invoice}: {row.account} holds {row.books:f} {row.currency} "
            f"but its schedule leaves {row.schedules:f} {row.currency} unrecognized "
            f"(recognized through {through or 'never'})",
            hint="compare the invoice's entries (`billbridge trace`) with the schedule; a "
            "mapping changed since it posted, or an entry was edited in the books",
            **base,
        )
