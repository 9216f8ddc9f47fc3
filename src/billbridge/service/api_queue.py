"""The queue by cause, over the API: `GET /api/queue/causes`, `POST /api/queue/causes/replay`.

Why its own module: the API router module holds the record-level routes; causes are the
morning view (what to fix once, and the one replay that clears it), with the same JSON as
`billbridge queue causes --json` and `billbridge replay --cause … --json`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from billbridge.config import Workspace

from . import actions
from .auth import Principal
from .deps import StoreDep, api_user, workspace

__all__ = ["register"]

Viewer = Annotated[Principal, Depends(api_user("viewer"))]
Operator = Annotated[Principal, Depends(api_user("operator"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]


class CauseReplayIn(BaseModel):
    cause: str = Field(min_length=1, max_length=500)
    dry_run: bool = True  # a preview unless asked otherwise: replaying posts to the books
    flow: str | None = Field(default=None, max_length=200)


def list_causes(
    ws: WorkspaceDep,
    store: StoreDep,
    _: Viewer,
    flow: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Open rows grouped by cause: problem, count, records (in words), amounts, fix, oldest."""
    return [c.as_json() for c in actions.causes(ws, store, flow=flow)]


def replay_cause(
    body: CauseReplayIn, ws: WorkspaceDep, store: StoreDep, who: Operator
) -> dict[str, Any]:
    """Replay every record of one cause (`dry_run`, the default: what would post, and what
    would still fail and why)."""
    done = actions.replay_a_cause(
        ws, store, body.cause, actor=who.actor, dry_run=body.dry_run, flow=body.flow
    )
    return done.as_json()


def register(router: APIRouter) -> None:
    """Add the routes to the API's router (before `/queue/{id}/…`, which they resemble)."""
    router.get("/queue/causes")(list_causes)
    router.post("/queue/causes/replay")(replay_cause)
