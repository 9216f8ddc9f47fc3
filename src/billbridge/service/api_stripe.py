"""Stripe write-back over the API: `POST /api/stripe/invoices/{id}/mark-paid` and `/void`.

The same engine call as `billbridge stripe mark-paid|void`, as an operator. A
`mode: production` connection needs `{"confirm": true}` in the body (428 otherwise),
as the CLI needs `--yes`. Answers: 200 with the outcome when done or already done; 409
when Stripe refused (the invoice's state does not allow it: the outcome, with Stripe's
message and request id, is the detail, and the queue has the row); 503 with Retry-After
when Stripe did not answer; 400 for a connection that cannot write back (the message
names the field); 502 when Stripe refused the credentials. 422 stays FastAPI's own
(a malformed body or invoice id).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field

from billbridge.config import ConfigError, Workspace
from billbridge.connectors.base import ConnectorError
from billbridge.engine.writeback import Action, WriteBackState, invoice_request, write_back
from billbridge.wiring import writeback_connection, writeback_connector

from .auth import Principal
from .deps import StoreDep, api_user, workspace

__all__ = ["register"]

Operator = Annotated[Principal, Depends(api_user("operator"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]
InvoiceId = Annotated[str, Path(pattern=r"^in_[A-Za-z0-9_]{1,250}$")]


class InvoiceActionIn(BaseModel):
    connection: str | None = Field(default=None, max_length=200)
    confirm: bool = False  # required on a `mode: production` connection


def _invoice_action(
    action: Action,
    invoice_id: str,
    body: InvoiceActionIn,
    ws: Workspace,
    store: WriteBackState,
    who: Principal,
) -> dict[str, Any]:
    try:
        name, conn = writeback_connection(ws, body.connection)
    except ConfigError as exc:
        raise HTTPException(400, f"{exc.field}: {exc.detail}") from None
    if conn.mode == "production" and not body.confirm:
        raise HTTPException(
            428,
            f"connection {name!r} is `mode: production`: this changes real money state in "
            'Stripe; send {"confirm": true} (nothing was sent)',
        )
    request = invoice_request(name, action, invoice_id)
    try:
        outcome = write_back(store, writeback_connector(conn), request, actor=who.actor)
    except ConnectorError as exc:  # credentials refused: recorded, nothing queued
        raise HTTPException(502, str(exc)) from None
    if outcome.ok:
        return outcome.as_json()
    if outcome.retryable:
        raise HTTPException(503, outcome.as_json(), headers={"Retry-After": "30"})
    raise HTTPException(409, outcome.as_json())


def mark_paid(
    invoice_id: InvoiceId, body: InvoiceActionIn, ws: WorkspaceDep, store: StoreDep, who: Operator
) -> dict[str, Any]:
    """Mark an open invoice paid outside Stripe (`paid_out_of_band`); audited, queued if refused."""
    return _invoice_action("mark-paid", invoice_id, body, ws, store, who)


def void(
    invoice_id: InvoiceId, body: InvoiceActionIn, ws: WorkspaceDep, store: StoreDep, who: Operator
) -> dict[str, Any]:
    """Void an open invoice in Stripe; audited, queued if refused."""
    return _invoice_action("void", invoice_id, body, ws, store, who)


def register(router: APIRouter) -> None:
    """Add the routes to the API's router (its own routes, so its route list shows them)."""
    router.post("/stripe/invoices/{invoice_id}/mark-paid")(mark_paid)
    router.post("/stripe/invoices/{invoice_id}/void")(void)
