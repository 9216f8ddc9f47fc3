"""Two-way conflicts in the service: `POST /api/queue/{id}/resolve` and the conflict page.

Why one module for both: the API and the form call the same engine function
(`engine.resolve.resolve_conflict`), with the same role (operator) and audit rows; only
HTTP differs. The page shows both values, the last synced value, when each side was
seen and in which system, so a person can choose without opening either system.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from billbridge.config import Workspace
from billbridge.engine.resolve import ResolveError, resolve_conflict
from billbridge.engine.twoway_values import shown
from billbridge.wiring import flows as flow_runtimes

from .auth import Principal, allows
from .deps import StoreDep, api_user, check_csrf, ui_user, workspace
from .ui import templates

__all__ = ["api_router", "ui_router"]

api_router = APIRouter(prefix="/api", tags=["queue"])
ui_router = APIRouter(include_in_schema=False)
ApiOperator = Annotated[Principal, Depends(api_user("operator"))]
UiViewer = Annotated[Principal, Depends(ui_user("viewer"))]
UiOperator = Annotated[Principal, Depends(ui_user("operator"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]


MAX_ID = 2**63 - 1


class ResolveIn(BaseModel):
    """`take` a connection's values, or write a `value` (for the `fields` named)."""

    model_config = ConfigDict(extra="forbid")

    take: str | None = Field(default=None, max_length=200)
    value: str | None = Field(default=None, max_length=10_000)
    fields: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _one_way(self) -> ResolveIn:
        """Refused here, so the 422 has the documented validation shape."""
        if (self.take is None) == (self.value is None):
            raise ValueError("give `take` (a connection) or `value`, not both, not neither")
        return self


def _resolve(ws: Workspace, store: Any, row: int, who: Principal, **how: Any) -> dict[str, Any]:
    try:
        with flow_runtimes(ws) as lookup:
            return resolve_conflict(store, lookup, row, actor=who.actor, **how).as_json()
    except ResolveError as exc:  # the row or the systems do not allow it now
        status = 404 if str(exc).startswith("no queue row") else 409
        raise HTTPException(status, str(exc)) from None


@api_router.post("/queue/{row}/resolve")
def resolve_row(
    row: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: ResolveIn,
    ws: WorkspaceDep,
    store: StoreDep,
    who: ApiOperator,
) -> dict[str, Any]:
    """Settle a two-way conflict: `{"take": "crm"}` or `{"value": "…", "fields": ["email"]}`."""
    return _resolve(ws, store, row, who, take=body.take, value=body.value, fields=body.fields)


@ui_router.get("/conflicts/{row}", response_class=HTMLResponse)
def conflict_page(
    row: int, request: Request, ws: WorkspaceDep, store: StoreDep, who: UiViewer,
    notice: str = "",
) -> HTMLResponse:  # fmt: skip
    found = store.get_exception(row)
    if found is None:
        raise HTTPException(404, f"no queue row {row}")
    conflicts = store.conflicts_of_record(found.flow, found.record_key)
    a, _, b = (conflicts[0].pair if conflicts else "|").partition("|")
    return templates.TemplateResponse(
        request, "conflict.html",
        {"who": who, "can_act": allows(who.role, "operator") and found.status == "open",
         "row": found, "conflicts": conflicts, "a": a, "b": b, "shown": shown,
         "notice": notice},
    )  # fmt: skip


@ui_router.post("/conflicts/{row}/resolve")
def resolve_form(
    row: int,
    ws: WorkspaceDep,
    store: StoreDep,
    who: UiOperator,
    take: Annotated[str | None, Form()] = None,
    value: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(who, csrf_token)
    done = _resolve(ws, store, row, who, take=take, value=value)
    text = f"Resolved row {row}: {', '.join(done['fields'])} ({done['took']})."
    return RedirectResponse(f"/conflicts/{row}?notice={quote(text)}", status_code=303)
