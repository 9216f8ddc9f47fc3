"""Write-back: change a billing system (Stripe) on behalf of another system's record.

Why an engine operation and not just the connector: exactly-once needs the state store.
The path of one request:

```
request ▶ version (content hash of what is asked)
        ▶ done before, same version? → "already done", nothing is sent
        ▶ row `pending` committed BEFORE anything is sent
        ▶ connector write, idempotency key = record key + version (+ attempt after a refusal)
          · a row an earlier attempt left `pending` (answer lost, process killed) means the
            write may have landed: the object is looked up first (a customer by the record
            key in its metadata, an invoice by its status), and only then sent again
        ▶ one commit: the row (done / failed / still pending), the audit row, the queue row
```

A failure becomes a row in the exception queue, under the pseudo-flow
`writeback:<connection>:<action>` (never a real flow's name, which cannot hold `:`), so the
person who owns the morning queue sees it, alerts count it, and a later success or
`dismiss` closes it. It is not retried by `billbridge retry` (a write-back is not a flow's
record; its row's hint names the command to run again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

import orjson

from billbridge.connectors.base import (
    FatalError,
    RecordError,
    RetryableError,
    WriteBackConnector,
    WriteBackResult,
)
from billbridge.store.base import AuditEvent, Batch, Batches, ExceptionRow, WriteBackRow, WriteBacks

from .crashpoints import crashpoint


class WriteBackState(Batches, WriteBacks, Protocol):
    """A write-back keeps its rows (pending before sending) and commits them with audit."""


__all__ = [
    "ACTIONS",
    "Action",
    "WriteBackOutcome",
    "WriteBackRequest",
    "invoice_request",
    "is_writeback_flow",
    "queue_flow",
    "write_back",
    "writeback_key",
]

Action = Literal["push-customer", "mark-paid", "void"]
ACTIONS: Final[tuple[Action, ...]] = ("push-customer", "mark-paid", "void")
_QUEUE_PREFIX: Final = "writeback:"


def queue_flow(connection: str, action: str) -> str:
    """The exception queue's `flow` for failed write-backs of one connection and action."""
    return f"{_QUEUE_PREFIX}{connection}:{action}"


def is_writeback_flow(flow: str) -> bool:
    return flow.startswith(_QUEUE_PREFIX)


def writeback_key(record_key: str, version: str, action: str, attempt: int = 1) -> str:
    """The idempotency key: the same request always sends the same key, until refused."""
    text = f"{record_key}|{version}|{action}" + (f"|{attempt}" if attempt > 1 else "")
    return f"billbridge-{action}-{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteBackRequest:
    """One change asked of a billing connection.

    `record_key` is the record the change comes from (`crm:customer:42`, or for an
    invoice action `<connection>:invoice:<id>`); `fields` are a customer's Stripe fields.
    """

    connection: str
    action: Action
    record_key: str
    object_id: str = ""  # the invoice id of mark-paid / void
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def payload(self) -> bytes:
        return orjson.dumps(
            {"action": self.action, "object_id": self.object_id, "fields": dict(self.fields)},
            option=orjson.OPT_SORT_KEYS,
        )

    @property
    def version(self) -> str:
        """The content hash of what is asked: a changed customer is a new version."""
        return hashlib.blake2b(self.payload, digest_size=16).hexdigest()

    def command(self) -> str:
        """The command a person runs to send this request again."""
        if self.action == "push-customer":
            return f"billbridge stripe push-customer --from <record {self.record_key}>"
        return f"billbridge stripe {self.action} {self.object_id} --connection {self.connection}"


def invoice_request(connection: str, action: Action, invoice_id: str) -> WriteBackRequest:
    if not invoice_id.startswith("in_"):
        raise ValueError(f"{invoice_id!r} is not a Stripe invoice id (they look like in_1Abc…)")
    return WriteBackRequest(
        connection=connection,
        action=action,
        record_key=f"{connection}:invoice:{invoice_id}",
        object_id=invoice_id,
    )


Status = Literal["done", "already-done", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteBackOutcome:
    """What one request came to; `how` is created / updated / found / unchanged."""

    connection: str
    action: Action
    record_key: str
    version: str
    idempotency_key: str
    attempt: int
    status: Status
    how: str = ""
    object_id: str = ""
    object_status: str = ""  # an invoice's status in Stripe after the write
    error: str = ""
    retryable: bool = False
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def as_json(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "action": self.action,
            "record": self.record_key,
            "version": self.version,
            "idempotency_key": self.idempotency_key,
            "attempt": self.attempt,
            "status": self.status,
            "how": self.how or None,
            "object": self.object_id or None,
            "object_status": self.object_status or None,
            "error": self.error or None,
            "retryable": self.retryable,
            "hint": self.hint or None,
        }


def _outcome(row: WriteBackRow, status: Status, **extra: Any) -> WriteBackOutcome:
    action: Action = row.action  # type: ignore[assignment]  # written from an Action
    return WriteBackOutcome(
        connection=row.connection,
        action=action,
        record_key=row.record_key,
        version=row.version,
        idempotency_key=row.idempotency_key,
        attempt=row.attempt,
        status=status,
        how=row.how,
        object_id=row.object_id,
        **extra,
    )


def write_back(
    store: WriteBackState, connector: WriteBackConnector, request: WriteBackRequest, *, actor: str
) -> WriteBackOutcome:
    """Send one request at most once; its result is in the store, the audit log and the queue.

    Raises `FatalError` (credentials refused) after recording it: the request was not
    processed, and nothing can be until the connection's configuration is fixed.
    """
    version = request.version
    prior = store.get_writeback(
        connection=request.connection,
        action=request.action,
        record_key=request.record_key,
        version=version,
    )
    if prior is not None and prior.status == "done":
        return _outcome(prior, "already-done")
    uncertain = prior is not None and prior.status == "pending"
    attempt = 1 if prior is None else prior.attempt if uncertain else prior.attempt + 1
    pending = WriteBackRow(
        connection=request.connection,
        action=request.action,
        record_key=request.record_key,
        version=version,
        idempotency_key=writeback_key(request.record_key, version, request.action, attempt),
        status="pending",
        actor=actor,
        attempt=attempt,
        object_id=request.object_id or (prior.object_id if prior else ""),
        error=prior.error if prior is not None and uncertain else "",
        request=request.payload,
        first_at=prior.first_at if prior else None,
    )
    store.commit(Batch(writebacks=[pending]))
    try:
        result = _send(store, connector, request, pending, uncertain=uncertain)
    except RetryableError as exc:
        return _failed(store, request, pending, str(exc), retryable=True)
    except RecordError as exc:
        return _failed(store, request, pending, str(exc), retryable=False)
    except FatalError as exc:
        refused = replace(pending, status="failed", error=str(exc), last_at=_now())
        store.commit(Batch(writebacks=[refused], audit=[_audit(refused, "writeback-failed")]))
        raise
    crashpoint("writeback-after-send")
    if uncertain and result.how == "unchanged":  # already so: our earlier attempt landed
        result = replace(result, how="found")
    return _done(store, request, pending, result)


def _send(
    store: WriteBackState,
    connector: WriteBackConnector,
    request: WriteBackRequest,
    row: WriteBackRow,
    *,
    uncertain: bool,
) -> WriteBackResult:
    key, version = row.idempotency_key, row.version
    if request.action == "mark-paid":
        return connector.mark_invoice_paid(
            request.object_id, record_key=request.record_key, version=version, idempotency_key=key
        )
    if request.action == "void":
        return connector.void_invoice(
            request.object_id, record_key=request.record_key, version=version, idempotency_key=key
        )
    stripe_id = _pushed_customer(store, request)
    if stripe_id is None:
        # Look up before create, always: the store may be new, or an earlier attempt's
        # answer may have been lost after Stripe created the customer.
        found = connector.find_customer(request.record_key, email=request.fields.get("email"))
        if found is not None:
            if uncertain:  # our own earlier attempt landed: nothing more to send
                return WriteBackResult(id=str(found["id"]), how="found", data=found)
            stripe_id = str(found["id"])
    return connector.push_customer(
        record_key=request.record_key,
        version=version,
        fields=request.fields,
        stripe_id=stripe_id,
        idempotency_key=key,
    )


def _pushed_customer(store: WriteBackState, request: WriteBackRequest) -> str | None:
    """The Stripe id an earlier push of this record got, on this connection."""
    done = [
        row.object_id
        for row in store.writebacks_for(request.record_key)
        if row.connection == request.connection
        and row.action == "push-customer"
        and row.object_id
        and row.status in {"done", "pending"}
    ]
    return done[-1] if done else None


def _now() -> datetime:
    return datetime.now(UTC)


def _audit(row: WriteBackRow, action: str, **diff: Any) -> AuditEvent:
    """Who asked for which change, with the key Stripe saw; never the API key."""
    fields = {
        "connection": row.connection,
        "request": row.action,
        "object": row.object_id or None,
        "idempotency_key": row.idempotency_key,
        "attempt": row.attempt,
        **diff,
    }
    return AuditEvent(
        actor=row.actor,
        action=action,
        record_key=row.record_key,
        diff={name: [None, value] for name, value in fields.items()},
        at=row.last_at,
    )


def _done(
    store: WriteBackState, request: WriteBackRequest, pending: WriteBackRow, result: WriteBackResult
) -> WriteBackOutcome:
    row = replace(pending, status="done", object_id=result.id, how=result.how, error="",
                  last_at=_now())  # fmt: skip
    invoice = request.action != "push-customer"
    object_status = result.status if invoice else ""
    extra: dict[str, Any] = {"how": result.how}
    if object_status:
        extra["object_status"] = object_status
    if request.action == "push-customer":
        extra["fields"] = sorted(request.fields)
    flow = queue_flow(request.connection, request.action)
    store.commit(
        Batch(
            writebacks=[row],
            audit=[_audit(row, f"writeback-{request.action}", **extra)],
            closed_exceptions=[(flow, request.record_key, f"written back by {row.actor}")],
        )
    )
    return _outcome(row, "done", object_status=object_status)


def _failed(
    store: WriteBackState,
    request: WriteBackRequest,
    pending: WriteBackRow,
    error: str,
    *,
    retryable: bool,
) -> WriteBackOutcome:
    """Retryable: the write may have landed, so the row stays `pending` (looked up next time)."""
    now = _now()
    row = replace(pending, status="pending" if retryable else "failed", error=error, last_at=now)
    again = request.command()
    if retryable:
        hint = (
            f"Stripe's answer was lost or Stripe is unavailable; run `{again}` again: billbridge "
            "first looks in Stripe whether the change landed, and only then sends it again"
        )
    elif request.action == "push-customer":
        hint = f"fix the customer record (the field Stripe names), then run `{again}`"
    else:
        hint = (
            f"check invoice {request.object_id} in Stripe (only an open invoice can be "
            f"{'paid' if request.action == 'mark-paid' else 'voided'}), then run `{again}`, "
            "or dismiss this row"
        )
    exception = ExceptionRow(
        flow=queue_flow(request.connection, request.action),
        record_key=request.record_key,
        version=row.version,
        kind="failed",
        error=error,
        at=now,
        field=request.action,
        hint=hint,
        retryable=retryable,
    )
    audit = _audit(row, "writeback-failed", error=error, retryable=retryable)
    store.commit(Batch(writebacks=[row], exceptions=[exception], audit=[audit]))
    return _outcome(row, "failed", error=error, retryable=retryable, hint=hint)
