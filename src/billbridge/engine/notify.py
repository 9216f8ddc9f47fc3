"""Customer-success notifications: a plan upgrade told once, through the alert routes.

Why an outbox: the upgrade is seen inside a run (a deal's plan changed to one worth
more, written to the billing system), but a message must not be sent before the run's
commit (a crash would send it for a change the store never recorded) nor lost after it
(a mail server down). So the run queues it in the same transaction as the write
(`notifications`, keyed by what changed, so a replay queues nothing new), and
`deliver_notifications` sends what is pending after the run, through the workspace's
alert routes (`alerts.webhook`, `alerts.smtp`), again at every later run until it is
delivered. Only with `alerts.rules.plan_upgrade: true`.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import orjson

from billbridge.alert_config import AlertsConfig, SmtpConfig
from billbridge.domain import Canonical, Customer, Deal
from billbridge.store.base import Pairs, Statement, notification_statement

from .delivery import Deliver

__all__ = [
    "UPGRADE",
    "NotifyState",
    "deliver_notifications",
    "is_upgrade",
    "upgrade_notice",
    "upgrade_statement",
]

UPGRADE = "plan_upgrade"


class NotifyState(Pairs, Protocol):
    """Delivery reads and marks the notification outbox."""


class _HasAlerts(Protocol):
    @property
    def alerts(self) -> AlertsConfig | None: ...


def is_upgrade(before: Deal | None, after: Deal) -> bool:
    """A won deal whose plan changed to one worth more than before (same currency)."""
    if before is None or not after.won or not before.plan or before.plan == after.plan:
        return False
    if before.amount is None or after.amount is None:
        return False
    if before.amount.currency != after.amount.currency:
        return False
    return after.amount > before.amount


def upgrade_statement(
    *, deal_key: str, version: str, account: str, before: Deal, after: Deal, at: datetime
) -> Statement:
    """The outbox row of one upgrade (deal, version): queued once, however often replayed."""
    assert after.amount is not None
    payload = {
        "source": "billbridge",
        "state": "notice",
        "rule": UPGRADE,
        "subject": account,
        "account": account,
        "deal": deal_key,
        "old_plan": before.plan,
        "new_plan": after.plan,
        "amount": str(after.amount.amount),
        "currency": after.amount.currency,
        "old_amount": str(before.amount.amount) if before.amount else None,
        "at": at.isoformat(),
    }
    text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    return notification_statement(UPGRADE, f"{deal_key}@{version}", text, at)


def upgrade_notice(
    pipe: Any, key: str, version: str, value: Canonical, now: datetime
) -> Statement | None:
    """The outbox row when `value` (a deal just written) upgrades the version stored before.

    `pipe` is the run's `RecordPipeline`: the deal's previous snapshot is the one the
    batch found in the store, and the account's name comes from the records it holds.
    """
    if not isinstance(value, Deal):
        return None
    prior = pipe._prior.get(key)
    if prior is None or prior.version == version:
        return None
    old = pipe.flow.normalize(orjson.loads(prior.snapshot), record=key, resolve=pipe.resolve)
    if not isinstance(old.value, Deal) or not is_upgrade(old.value, value):
        return None
    account = value.customer
    data = pipe.resolve("customer", value.customer)
    if data is not None:
        found = pipe.flow.normalize(data, record="", resolve=pipe.resolve).value
        if isinstance(found, Customer):
            account = found.name
    return upgrade_statement(
        deal_key=key, version=version, account=account, before=old.value, after=value, at=now
    )


def deliver_notifications(
    workspace: _HasAlerts,
    store: NotifyState,
    *,
    client: httpx.Client | None = None,
    smtp: Callable[[SmtpConfig], smtplib.SMTP] | None = None,
) -> list[str]:
    """Send every pending notification; returns the delivery errors (retried next time)."""
    config = workspace.alerts
    if config is None or not config.rules.plan_upgrade:
        return []
    deliver = Deliver(config, client, smtp)
    errors: list[str] = []
    for row in store.pending_notifications():
        payload: dict[str, Any] = orjson.loads(row.payload)
        failed = deliver(payload)
        if failed:
            errors.extend(failed)
            store.mark_notification(row.id, sent_at=None, error="; ".join(failed)[:500])
        else:
            store.mark_notification(row.id, sent_at=datetime.now(UTC))
    return errors
