"""The webhook receiver of any connector that signs its deliveries (BottleCRM and others).

Why a second receiver beside `stripe_webhooks.py`: Stripe's is built on its SDK's own
signature check and event shape; every other system's check comes from its connector's
spec (`ConnectorSpec.webhook`, see `connectors/webhooks.py`), so one receiver serves them
all at `POST /webhooks/<connection>`. The order is the same as Stripe's, for the same
reasons: verify, store the event once in the inbox (one row per flow reading the
connection) before answering 2xx, then drain the inbox after the answer. A sender that
never retries (BottleCRM without its Celery beat) loses nothing when billbridge is down:
the next poll of a snapshot source reads the change anyway.

Answers: 413 over `max_bytes`; 400 for an unsigned, forged, stale or future-stamped
delivery, or one that is not an event (the connector's message); 200 for an event about
an object no flow reads (not stored) and for a redelivery (stored once, by event id:
a replayed delivery is never processed twice); 503 when the state store is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from billbridge.audit_anchors import anchor_or_say
from billbridge.config import Workspace
from billbridge.connectors.registry import spec_for
from billbridge.connectors.webhooks import WebhookCheck, WebhookEvent, WebhookRefused
from billbridge.engine.inbox import InboxResult, drain_inbox
from billbridge.engine.notify import deliver_notifications
from billbridge.store import Store, StoreError
from billbridge.wiring import flows, open_workspace_store

__all__ = ["DEFAULT_MAX_BYTES", "connector_webhook_router", "create_connector_webhook_app",
           "webhook_checks"]  # fmt: skip

DEFAULT_MAX_BYTES = 512 * 1024
_log = logging.getLogger(__name__)
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_GUARD = threading.Lock()


def webhook_checks(workspace: Workspace) -> dict[str, WebhookCheck]:
    """Connection name -> its delivery check, for each connection whose connector signs
    webhooks and which is configured to receive them (its secret is set)."""
    found: dict[str, WebhookCheck] = {}
    for name, conn in workspace.connections.items():
        spec = spec_for(conn)
        if spec.webhook is None or getattr(conn, "webhook_secret", None) is None:
            continue
        found[name] = spec.webhook(conn)
    return found


class _Receiver:
    def __init__(
        self,
        workspace: Workspace,
        connection: str,
        check: WebhookCheck,
        *,
        max_bytes: int,
        open_store: Callable[[], Store],
        clock: Callable[[], float],
    ) -> None:
        self.workspace = workspace
        self.connection = connection
        self.check = check
        self.flows = tuple(f.name for f in workspace.flows if f.source == connection)
        if not self.flows:
            raise ValueError(
                f"no flow reads connection {connection!r}: nothing would take its events"
            )
        self.max_bytes = max_bytes
        self.open_store = open_store
        self.clock = clock

    async def body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise WebhookRefused(413, f"the body is over {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_bytes:
                raise WebhookRefused(413, f"the body is over {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def store(self, event: WebhookEvent, payload: bytes) -> bool:
        store = self.open_store()
        try:
            return store.inbox_add(
                event_id=event.event_id,
                connection=self.connection,
                type=event.type,
                object_key=f"{self.connection}:{event.object_key}",
                created=event.created,
                payload=payload,
                flows=self.flows,
            )
        finally:
            store.close()

    def process(self, *, limit: int = 500) -> list[InboxResult]:
        """Drain every flow of this connection (one drain per connection at a time)."""
        with _GUARD:
            lock = _LOCKS.setdefault((str(self.workspace.root), self.connection), threading.Lock())
        passes: list[InboxResult] = []
        with lock:
            store = self.open_store()
            try:
                with flows(self.workspace) as lookup:
                    for name in self.flows:
                        passes.extend(
                            drain_inbox(lookup(name), store, actor=f"{self.connection}-webhook",
                                        limit=limit)
                        )  # fmt: skip
                deliver_notifications(self.workspace, store)
                problem = anchor_or_say(self.workspace, store)
                if problem is not None:
                    _log.warning("%s", problem)
            finally:
                store.close()
        return passes


def connector_webhook_router(
    workspace: Workspace,
    *,
    connection: str,
    check: WebhookCheck | None = None,
    path: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    process: bool = True,
    open_store: Callable[[], Store] | None = None,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """`POST {path}` (default `/webhooks/<connection>`) receiving that connection's events."""
    if check is None:
        checks = webhook_checks(workspace)
        if connection not in checks:
            raise ValueError(
                f"connection {connection!r} takes no webhooks: its connector signs none, or "
                "its `webhook_secret` is not set"
            )
        check = checks[connection]
    receiver = _Receiver(
        workspace, connection, check, max_bytes=max_bytes,
        open_store=open_store or (lambda: open_workspace_store(workspace)), clock=clock,
    )  # fmt: skip
    router = APIRouter()

    @router.post(path or f"/webhooks/{connection}")
    async def receive(request: Request, background: BackgroundTasks) -> JSONResponse:
        try:
            payload = await receiver.body(request)
            headers = {k.lower(): v for k, v in request.headers.items()}
            event = receiver.check(headers, payload, receiver.clock())
        except WebhookRefused as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        if not event.object_key:
            return JSONResponse({"received": event.event_id, "ignored": event.type})
        try:
            new = await run_in_threadpool(receiver.store, event, payload)
        except StoreError:
            return JSONResponse({"error": "the state store is unavailable"}, status_code=503)
        if process and new:
            background.add_task(receiver.process)
        return JSONResponse({"received": event.event_id, "duplicate": not new})

    return router


def create_connector_webhook_app(
    workspace: Workspace, *, connection: str, **options: Any
) -> FastAPI:
    """The receiver on its own ASGI app (tests, or a receiver-only deployment)."""
    app = FastAPI(title=f"billbridge webhooks: {connection}", docs_url=None, redoc_url=None)
    app.include_router(connector_webhook_router(workspace, connection=connection, **options))
    return app
