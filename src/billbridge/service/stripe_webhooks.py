"""The Stripe webhook receiver: verify, dedupe, store durably, answer, then process.

Why this order: Stripe stops sending an event once it got a 2xx, so the event must be
in the state store (the inbox) before the answer; the processing runs after the answer
(a background task), from the inbox, so a slow ledger never makes Stripe retry and a
crash after the answer loses nothing (the pending rows are drained on the next
delivery, or by `billbridge worker`). Each event is stored once per flow that reads the
connection, so every flow posts it, each exactly once.

What never reaches the inbox (and so never the pipeline), and the answer:
- a body over `max_bytes`: 413;
- no `Stripe-Signature`, a signature that does not match the connection's
  `webhook_secret`, or a signed timestamp more than the tolerance in the past (a
  replay) or in the future (a stamp made to outlive the window): 400;
- a body that is not UTF-8 JSON of a Stripe event (`id`, `type`, `created`,
  `data.object` with `object` and `id`): 400.
An event about an object billbridge does not read (a plan, a payment method) is
answered 200 and not stored. A redelivered event id is answered 200 and not stored
twice. The store being down is a 503, which Stripe retries.

`stripe_webhook_router(...)` is mounted by `billbridge serve`; `create_webhook_app`
is the same router on its own, for tests and small deployments.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import stripe
from fastapi import APIRouter, BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from billbridge.audit_anchors import anchor_or_say
from billbridge.config import StripeConnection, Workspace
from billbridge.engine.inbox import InboxResult, drain_inbox
from billbridge.formats.stripe import POSTABLE_OBJECTS, REFERENCE_OBJECTS
from billbridge.store import Store, StoreError
from billbridge.wiring import flows, open_workspace_store

__all__ = ["DEFAULT_MAX_BYTES", "create_webhook_app", "stripe_webhook_router"]

DEFAULT_MAX_BYTES = 512 * 1024  # Stripe events are a few KiB; an invoice with lines tens
DEFAULT_TOLERANCE = 300  # seconds, Stripe's own default

_log = logging.getLogger(__name__)


class _Rejected(Exception):  # noqa: N818 - a control signal inside this module
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _event(payload: bytes) -> dict[str, Any]:
    """The payload as a Stripe event, or a 400 naming what is missing."""
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise _Rejected(400, "the body is not JSON") from None
    if type(event) is not dict:
        raise _Rejected(400, "the body is not a JSON object")
    for name, kind in (("id", str), ("type", str), ("created", int)):
        if type(event.get(name)) is not kind:
            raise _Rejected(400, f"the event has no `{name}`")
    data = event.get("data")
    obj = data.get("object") if type(data) is dict else None
    if type(obj) is not dict or type(obj.get("object")) is not str:
        raise _Rejected(400, "the event has no `data.object`")
    if type(obj.get("id")) is not str or not obj["id"]:
        raise _Rejected(400, "the event's object has no `id`")
    return event


def _signed_at(header: str) -> int | None:
    """The `t=` of a Stripe-Signature header (already verified to be signed)."""
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            return int(value)
    return None


class _Receiver:
    def __init__(
        self,
        workspace: Workspace,
        flow: str,
        *,
        tolerance: int,
        max_bytes: int,
        open_store: Callable[[], Store],
    ) -> None:
        config = workspace.flow(flow)
        conn = workspace.connections[config.source]
        if not isinstance(conn, StripeConnection) or conn.webhook_secret is None:
            raise ValueError(
                f"connection {config.source!r} has no `webhook_secret`; set it to "
                "${STRIPE_WEBHOOK_SECRET} (the whsec_… of the endpoint) to receive webhooks"
            )
        self.workspace = workspace
        self.flow = flow
        self.connection = config.source
        # Every flow reading this connection gets its own copy of each event, whichever
        # of their endpoints Stripe delivers to: one registered endpoint is enough.
        self.flows = tuple(f.name for f in workspace.flows if f.source == config.source)
        self._secret = conn.webhook_secret
        self.tolerance = tolerance
        self.max_bytes = max_bytes
        self.open_store = open_store

    async def body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise _Rejected(413, f"the body is over {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_bytes:
                raise _Rejected(413, f"the body is over {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def verify(self, payload: bytes, header: str | None) -> dict[str, Any]:
        if not header:
            raise _Rejected(400, "no Stripe-Signature header")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise _Rejected(400, "the body is not UTF-8") from None
        try:
            stripe.WebhookSignature.verify_header(
                text, header, self._secret.get_secret_value(), self.tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise _Rejected(400, f"signature rejected: {exc.user_message or exc}") from None
        # The SDK checks only the past side of the window; a stamp from the future would
        # stay "fresh" (replayable) for as long as it is ahead.
        stamp = _signed_at(header)
        if stamp is None or stamp > time.time() + self.tolerance:
            raise _Rejected(
                400, f"signature rejected: timestamp {stamp} is ahead of this server's "
                f"clock by more than the tolerance ({self.tolerance} s)",
            )  # fmt: skip
        return _event(payload)

    def store(self, event: dict[str, Any], payload: bytes) -> bool:
        obj = event["data"]["object"]
        store = self.open_store()
        try:
            return store.inbox_add(
                event_id=event["id"],
                connection=self.connection,
                type=event["type"],
                object_key=f"{self.connection}:{obj['object']}:{obj['id']}",
                created=event["created"],
                payload=payload,
                flows=self.flows,
            )
        finally:
            store.close()

    def process(self, *, limit: int = 500) -> list[InboxResult]:
        """Drain the pending events of every flow of this connection, `limit` per store
        transaction. One drain of a connection at a time in this process, across all the
        endpoints mounted for it: its targets stay open (and locked) until the end."""
        passes: list[InboxResult] = []
        with _connection_lock(self.workspace, self.connection):
            store = self.open_store()
            try:
                with flows(self.workspace, store=store, actor="webhook") as lookup:
                    for name in self.flows:
                        passes.extend(drain_inbox(lookup(name), store, limit=limit))
                problem = anchor_or_say(self.workspace, store)  # the drain's runs end here
                if problem is not None:
                    _log.warning("%s", problem)
            finally:
                store.close()
        return passes


async def _defer_all(defer: Callable[[str], Awaitable[object]], names: tuple[str, ...]) -> None:
    """Hand the stored event to the workers; if that fails, their tick drains it anyway."""
    for name in names:
        try:
            await defer(name)
        except Exception:  # the event is stored: a failed hand-off only delays it
            _log.warning("could not defer the inbox drain of flow %s", name, exc_info=True)


_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _connection_lock(workspace: Workspace, connection: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((str(workspace.root), connection), threading.Lock())


def stripe_webhook_router(
    workspace: Workspace,
    *,
    flow: str,
    path: str = "/webhooks/stripe",
    tolerance: int = DEFAULT_TOLERANCE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    process: bool = True,
    open_store: Callable[[], Store] | None = None,
    defer: Callable[[str], Awaitable[object]] | None = None,
) -> APIRouter:
    """A router with `POST {path}` receiving the events of `flow`'s Stripe connection.

    `process=False` only stores events (for a deployment where workers drain the inbox).
    `defer(flow)`, when given, is awaited for each flow of the connection after a new
    event is stored, instead of processing here (`serve --webhooks-to-workers`).
    """
    receiver = _Receiver(
        workspace,
        flow,
        tolerance=tolerance,
        max_bytes=max_bytes,
        open_store=open_store or (lambda: open_workspace_store(workspace)),
    )
    router = APIRouter()

    @router.post(path)
    async def receive(request: Request, background: BackgroundTasks) -> JSONResponse:
        try:
            payload = await receiver.body(request)
            event = receiver.verify(payload, request.headers.get("stripe-signature"))
        except _Rejected as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        obj_type = event["data"]["object"]["object"]
        if obj_type not in POSTABLE_OBJECTS and obj_type not in REFERENCE_OBJECTS:
            return JSONResponse({"received": event["id"], "ignored": obj_type})
        try:
            new = await run_in_threadpool(receiver.store, event, payload)
        except StoreError:
            return JSONResponse({"error": "the state store is unavailable"}, status_code=503)
        if defer is not None:
            if new:
                await _defer_all(defer, receiver.flows)
        elif process:
            background.add_task(receiver.process)
        return JSONResponse({"received": event["id"], "duplicate": not new})

    return router


def create_webhook_app(workspace: Workspace, *, flow: str, **options: Any) -> FastAPI:
    """The webhook router on its own ASGI app (tests, or a receiver-only deployment)."""
    app = FastAPI(title="billbridge Stripe webhooks", docs_url=None, redoc_url=None)
    app.include_router(stripe_webhook_router(workspace, flow=flow, **options))
    return app
