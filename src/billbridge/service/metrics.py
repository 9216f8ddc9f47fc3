"""`GET /metrics`: the workspace's figures for Prometheus, read from the state store.

Why behind a viewer token: the figures name flows and queue sizes, which is operational
detail; Prometheus scrapes with `authorization: {credentials: <token>}` (a token made
with `billbridge token create --user <a viewer>`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from billbridge.config import Workspace
from billbridge.engine.metrics import CONTENT_TYPE, render_metrics

from .auth import Principal
from .deps import StoreDep, api_user, workspace

__all__ = ["router"]

router = APIRouter()


@router.get("/metrics", response_class=Response)
def metrics(
    store: StoreDep,
    ws: Annotated[Workspace, Depends(workspace)],
    _: Annotated[Principal, Depends(api_user("viewer"))],
) -> Response:
    """Prometheus text: records, queue, retries, discrepancies, waits, webhook lag, alerts."""
    body = render_metrics(store, flows=[flow.name for flow in ws.flows])
    return Response(content=body, media_type=CONTENT_TYPE)
