"""The settings of a `connector: bottlecrm` connection in billbridge.yaml.

Why these keys: BottleCRM (django-crm) is reached over its REST API with a personal
access token (`bcrm_pat_…`) of an admin profile; its signed webhooks carry a secret of
their own. Both are secrets, given only as `${ENV_VAR}` references. `key_field` is the
custom field billbridge defines once per CRM model to hold its record key (our key),
`plan_field` the deal custom field that holds the billing system's plan id.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from billbridge.connectors.spec import ConnectionConfig

__all__ = ["BottleCrmConnection", "CrmObjectName"]

CrmObjectName = Literal["accounts", "contacts", "deals", "invoices"]


class BottleCrmConnection(ConnectionConfig):
    """One BottleCRM organisation, read and written through its API."""

    connector: Literal["bottlecrm"]
    mode: Literal["sandbox", "production"] = "production"
    base_url: str = Field(pattern=r"^https?://")
    token: SecretStr
    webhook_secret: SecretStr | None = None
    key_field: str = Field(default="billing_id", pattern=r"^[a-z][a-z0-9_]*$")
    plan_field: str = Field(default="plan", pattern=r"^[a-z][a-z0-9_]*$")
    objects: tuple[CrmObjectName, ...] = ("accounts", "contacts", "deals", "invoices")
    page_size: int = Field(default=100, ge=1, le=1000)
    timeout: float = Field(default=30.0, gt=0)
