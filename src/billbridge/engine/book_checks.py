"""The pipeline's accounting hook: what the posting rules need from the store, and back.

Why a separate object: the rules are pure, but two accounting checks need state. A
payment's exchange difference and a credit note's jurisdiction need the invoice it
belongs to (`invoice`), and invoice-number uniqueness needs every number seen so far
(`check`). Keeping both here leaves the pipeline with one call in and one call out.

`check` also moves warnings (a doubtful VAT id) out of the plan's problems, so they do
not fail the record: each becomes an audit row (`warning`) beside the posting, and the
rules have already written it on the entry itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from billbridge.domain import Invoice, Severity
from billbridge.mapping.entities import facts_of, route
from billbridge.mapping.rules import Canonical, RulePlan
from billbridge.store.base import AuditEvent, Batch, Numbers

from .model import FlowRuntime
from .numbers import BatchOwners, Slot, check_invoice_number

__all__ = ["BookChecks"]

_INVOICES_KEPT = 4096  # normalized related invoices kept (a payment follows its invoice closely)


class BookChecks:
    def __init__(
        self,
        *,
        flow: FlowRuntime,
        store: Numbers,
        resolve: Callable[[str, str], Mapping[str, Any] | None],
        dry_run: bool,
    ) -> None:
        self.flow = flow
        self.store = store
        self.resolve = resolve
        self.dry_run = dry_run
        # invoice id -> (the snapshot it was normalized from, the result); see `invoice`
        self._invoices: dict[str, tuple[Mapping[str, Any], Invoice | None]] = {}
        self._pending_numbers: dict[Slot, str] = {}  # claims of the batch not yet committed
        self._owners = BatchOwners(store)  # the store's claims, as read during one batch
        self._batch: Batch | None = None  # the batch `_owners` was read for

    def batch_taken(self) -> None:
        """The batch (with its number claims) is being committed: the store answers now."""
        self._pending_numbers.clear()
        self._owners.forget()
        self._batch = None

    def invoice(self, ident: str) -> Invoice | None:
        """The normalized invoice `ident` of this flow's source, if the store has it.

        Cached while `resolve` hands back the same snapshot object: with functional
        currencies or entities, every payment and credit note of an invoice asks for it,
        and normalizing it again each time cost as much as the payment itself. A new
        version of the invoice is a new object, so it is normalized afresh.
        """
        data = self.resolve("invoice", ident)
        if data is None:
            return None
        cached = self._invoices.get(ident)
        if cached is not None and cached[0] is data:
            return cached[1]
        key = f"{self.flow.source.name}:invoice:{ident}"
        value = self.flow.normalize(data, record=key, resolve=self.resolve).value
        found = value if isinstance(value, Invoice) else None
        if len(self._invoices) >= _INVOICES_KEPT:
            self._invoices.clear()
        self._invoices[ident] = (data, found)
        return found

    def check(
        self,
        key: str,
        value: Canonical,
        plan: RulePlan,
        *,
        batch: Batch,
        actor: str,
        run_id: int,
        now: datetime,
    ) -> RulePlan:
        warnings = tuple(p for p in plan.problems if p.severity is Severity.WARNING)
        errors = tuple(p for p in plan.problems if p.severity is Severity.ERROR)
        if isinstance(value, Invoice):
            mapping = self.flow.mapping
            routed = route(
                value,
                mapping,
                record=key,
                facts=lambda: facts_of(
                    value, connection=self.flow.source.name, invoice=self.invoice
                ),
            )
            if not isinstance(routed, tuple):
                return plan  # the unrouted record already fails with the rules tried
            if batch is not self._batch:  # a new batch (a dry run takes none): read afresh
                self._owners.forget()
                self._batch = batch
            duplicate = check_invoice_number(
                self._owners,
                value,
                entity=routed[0].entity,
                record=key,
                at=now,
                pending=self._pending_numbers,
                claims=None if self.dry_run else batch.invoice_numbers,
            )
            if duplicate is not None:
                errors = (duplicate, *errors)
        if errors:
            return RulePlan(problems=errors, requires=plan.requires)
        if not warnings:
            return plan
        if not self.dry_run and plan.entries:
            batch.audit.extend(
                AuditEvent(
                    actor=actor,
                    action="warning",
                    record_key=key,
                    run_id=run_id,
                    mapping_version=self.flow.mapping.version,
                    at=now,
                    diff={"warning": [None, w.message], "field": [None, w.field]},
                )
                for w in warnings
            )
        return plan._replace(problems=())
