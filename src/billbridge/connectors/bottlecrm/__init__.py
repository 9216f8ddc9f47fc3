"""BottleCRM (PyPI `django-crm`): a source of accounts, contacts, deals and invoices, a
record target for customers and the invoice facts billbridge writes back, and signed
webhooks that make its changes arrive before the next poll.

Why a package: the HTTP edge (`_client`), the projections every path shares (`_shapes`),
the source model (`_model`, `_privacy`), the snapshot source (`_source`), the record
target (`_target`) and the webhook check (`_webhook`) are separate jobs with separate
tests. Configure it in billbridge.yaml:

```yaml
connections:
  crm:
    connector: bottlecrm
    base_url: https://crm.example.com
    token: ${CRM_TOKEN}                 # a personal access token of an ADMIN profile
    webhook_secret: ${CRM_WEBHOOK_SECRET}
```
"""

from __future__ import annotations

from billbridge.connectors.base import SourceConnector
from billbridge.connectors.records import RecordTarget
from billbridge.connectors.source import SourceModel
from billbridge.connectors.spec import ConnectorSpec
from billbridge.connectors.webhooks import WebhookCheck

from ._client import CrmApi, crm_message
from ._config import BottleCrmConnection
from ._model import describe, model, parse_event
from ._privacy import redact, subjects
from ._shapes import project, raw_bytes
from ._source import BottleCrmSource
from ._target import CUSTOMER_FIELDS, BottleCrmRecordTarget, account_fields, invoice_fields
from ._webhook import SIGNATURE_HEADER, crm_webhook_check

__all__ = [
    "CUSTOMER_FIELDS",
    "SIGNATURE_HEADER",
    "SPEC",
    "BottleCrmConnection",
    "BottleCrmRecordTarget",
    "BottleCrmSource",
    "CrmApi",
    "account_fields",
    "crm_message",
    "crm_webhook_check",
    "describe",
    "invoice_fields",
    "model",
    "parse_event",
    "project",
    "raw_bytes",
    "redact",
    "subjects",
]


def _api(conn: BottleCrmConnection) -> CrmApi:
    return CrmApi(
        base_url=conn.base_url,
        token=conn.token.get_secret_value(),
        timeout=conn.timeout,
        page_size=conn.page_size,
    )


def _source(name: str, conn: BottleCrmConnection) -> SourceConnector:
    return BottleCrmSource(name, _api(conn), objects=conn.objects)


def _model(conn: BottleCrmConnection) -> SourceModel:
    return model(conn.plan_field)


def _records(name: str, conn: BottleCrmConnection) -> RecordTarget:
    return BottleCrmRecordTarget(name, _api(conn), key_field=conn.key_field)


def _webhook(conn: BottleCrmConnection) -> WebhookCheck:
    if conn.webhook_secret is None:
        raise ValueError("set `webhook_secret: ${CRM_WEBHOOK_SECRET}` to receive webhooks")
    return crm_webhook_check(conn.webhook_secret.get_secret_value())


SPEC = ConnectorSpec(
    name="bottlecrm",
    config=BottleCrmConnection,
    role="source",
    factory=_source,
    source_model=_model,
    record_target=_records,
    webhook=_webhook,
    record_fields={
        "customer": ("name", "email", "address"),
        "invoice": ("status", "amount_paid", "paid_at"),
    },
)
