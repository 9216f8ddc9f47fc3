"""`POST /api/erase`: GDPR erasure from the service, for admins only (engine/erase.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from billbridge.config import Workspace
from billbridge.connectors.base import RetryableError
from billbridge.engine.erase import EraseError, erase_subject
from billbridge.wiring import erasure_parts

from .auth import Principal
from .deps import StoreDep, api_user, workspace

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["privacy"])
Admin = Annotated[Principal, Depends(api_user("admin"))]
WorkspaceDep = Annotated[Workspace, Depends(workspace)]


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(pattern=r"^[^:\s]+:[^:\s]+:\S+$", max_length=500)
    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("say why (the reason goes to the audit log; name no person in it)")
        return reason


@router.post("/erase")
def erase(body: EraseIn, ws: WorkspaceDep, store: StoreDep, who: Admin) -> dict[str, Any]:
    """Erase a person's data wherever billbridge keeps it (books and audit chain intact)."""
    models, scrubbers, kept = erasure_parts(ws)
    try:
        done = erase_subject(store, models, body.subject, reason=body.reason, actor=who.actor,
                             scrubbers=scrubbers, kept=kept)  # fmt: skip
    except EraseError as exc:
        status = 404 if "holds no record" in str(exc) else 409
        raise HTTPException(status, str(exc)) from None
    except RetryableError as exc:
        raise HTTPException(
            503, f"{exc}; nothing was erased", headers={"Retry-After": "5"}
        ) from None
    return done.as_json()
