"""The FastAPI application of `billbridge serve`: REST API, web UI, one workspace.

Why a factory: tests, `billbridge serve` and a production ASGI server each build the
app for their own workspace; nothing is global. Routers built elsewhere (the Stripe
webhook receiver, Prometheus metrics) are mounted in `EXTRA_ROUTERS` below.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from billbridge import __version__
from billbridge.audit_anchors import anchor_or_say
from billbridge.config import CONFIG_NAME, ConfigError, StripeConnection, Workspace
from billbridge.redact import workspace_secrets
from billbridge.store import StoreError, StorePool
from billbridge.wiring import open_workspace_store

from . import api, api_privacy, conflicts, metrics, ui, ui_admin, ui_mapping, ui_queue
from .auth import LoginLimiter
from .deps import LoginRequiredError
from .scrub import ScrubSecrets
from .stripe_webhooks import stripe_webhook_router
from .webhooks import connector_webhook_router, webhook_checks

__all__ = ["EXTRA_ROUTERS", "create_app", "proxy_options", "webhook_paths"]

# Routers that other parts of billbridge add to the service, mounted after the API and UI:
#   from .stripe_webhooks import router as stripe_webhooks   (the Stripe webhook receiver)
EXTRA_ROUTERS: list[Any] = [metrics.router]

CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
    "form-action 'self'"
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_log = logging.getLogger(__name__)
_TITLES = {401: "Log in first", 403: "Not allowed", 404: "Not found", 409: "Conflict",
           422: "Cannot do that", 429: "Too many attempts"}  # fmt: skip


def webhook_paths(workspace: Workspace) -> dict[str, str]:
    """Where each flow from a Stripe connection with a `webhook_secret` receives events.

    `/webhooks/stripe/<flow>` always; plain `/webhooks/stripe` too when only one flow
    receives webhooks (the URL most people register in Stripe's dashboard).
    """
    flows = [
        flow.name
        for flow in workspace.flows
        if isinstance(conn := workspace.connections.get(flow.source), StripeConnection)
        and conn.webhook_secret is not None
    ]
    paths = {f"/webhooks/stripe/{name}": name for name in flows}
    if len(flows) == 1:
        paths["/webhooks/stripe"] = flows[0]
    return paths


def proxy_options(forwarded_allow_ips: str | None) -> dict[str, Any]:
    """uvicorn's proxy settings for `serve`: trust `X-Forwarded-For`/`-Proto` only from
    the addresses the operator names (comma-separated IPs or networks), none by default.

    Why not uvicorn's default (trust 127.0.0.1): anything on the machine, or a client
    when no proxy is in front, could then choose its own address per request, and the
    login limit (per client address) would count nothing.
    """
    ips = ",".join(part.strip() for part in (forwarded_allow_ips or "").split(",") if part.strip())
    return {"proxy_headers": bool(ips), "forwarded_allow_ips": ips or ""}


def _anchor(workspace: Workspace, stores: StorePool) -> None:
    """Anchor the audit chain if it moved; a failure is logged, never a failed answer."""
    try:
        with stores.borrow() as store:
            problem = anchor_or_say(workspace, store)
    except StoreError as exc:  # no store to borrow: the next request anchors
        problem = f"the audit chain's anchor was not written: {exc}"
    if problem is not None:
        _log.warning("%s", problem)


async def _drain_job(flow: str) -> object:
    from billbridge.worker._queue import defer_drain  # noqa: PLC0415 - procrastinate only here

    return await defer_drain(flow)


def create_app(
    workspace: Workspace,
    *,
    login_limiter: LoginLimiter | None = None,
    webhooks_to_workers: bool = False,
) -> FastAPI:
    """The service; `webhooks_to_workers` hands each stored webhook event to the
    `billbridge worker`s (procrastinate, PostgreSQL state only) instead of processing it
    in this process."""
    stores = StorePool(lambda: open_workspace_store(workspace))
    if webhooks_to_workers and not workspace.state_url().startswith(("postgresql:", "postgres:")):
        raise ConfigError(
            workspace.root / CONFIG_NAME,
            None,
            "state",
            "--webhooks-to-workers needs the state on PostgreSQL (the workers' queue "
            "lives there); with SQLite, serve processes webhooks itself",
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            if webhooks_to_workers:
                from billbridge.worker._queue import opened  # noqa: PLC0415

                async with opened(workspace):
                    yield
            else:
                yield
        finally:
            stores.close()

    app = FastAPI(
        lifespan=lifespan,
        title="billbridge",
        version=__version__,
        description="Exception queue, replay, audit and trace of a billbridge workspace.",
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.workspace = workspace
    app.state.stores = stores
    app.state.login_limiter = login_limiter or LoginLimiter()
    app.include_router(api.router)
    app.include_router(ui.router)
    app.include_router(ui_admin.router)
    app.include_router(ui_queue.router)
    app.include_router(ui_mapping.router)
    app.include_router(conflicts.api_router)
    app.include_router(conflicts.ui_router)
    app.include_router(api_privacy.router)
    for router in EXTRA_ROUTERS:
        app.include_router(router)
    for path, flow in webhook_paths(workspace).items():
        app.include_router(
            stripe_webhook_router(
                workspace, flow=flow, path=path, defer=_drain_job if webhooks_to_workers else None
            )
        )

    stripe_paths = set(webhook_paths(workspace))
    for name, check in webhook_checks(workspace).items():  # any other connector that signs
        path = f"/webhooks/{name}"
        if path not in stripe_paths and any(f.source == name for f in workspace.flows):
            app.include_router(
                connector_webhook_router(workspace, connection=name, check=check, path=path)
            )

    @app.exception_handler(LoginRequiredError)
    def _login(request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.middleware("http")
    async def _anchor_changes(request: Request, call_next: Any) -> Response:
        """A request that may have added audit rows (a replay, a dismissal, a login, a user
        change) anchors the chain's new head before its answer leaves."""
        response: Response = await call_next(request)
        # (a webhook only stores its event: the drain that posts it anchors its own runs)
        if request.method not in _SAFE_METHODS and not request.url.path.startswith("/webhooks/"):
            await run_in_threadpool(_anchor, workspace, stores)
        return response

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Any) -> Response:
        """No framing (clickjacking), no foreign scripts, no MIME sniffing, no referrer leaks."""
        response: Response = await call_next(request)
        if not request.url.path.startswith("/api/docs"):  # Swagger UI loads its own assets
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        """JSON for the API, a readable page for the browser."""
        headers = getattr(exc, "headers", None)
        if request.url.path.startswith("/api") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)
        page = ui.templates.TemplateResponse(
            request,
            "error.html",
            {"who": None, "status": exc.status_code, "message": exc.detail,
             "title": _TITLES.get(exc.status_code, "Error")},
            status_code=exc.status_code,
        )  # fmt: skip
        if headers:
            page.headers.update(headers)
        return page

    # Added last, so it wraps every other layer: error pages and headers included.
    app.add_middleware(ScrubSecrets, secrets=workspace_secrets(workspace))
    return app
