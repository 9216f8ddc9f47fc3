"""Delivery of one message to the alert channels: a webhook and e-mail (SMTP).

Why a module of its own: alerts (incidents) and customer-success notices (engine/notify.py)
go out through the same channels and must fail the same way (a readable error per
channel, never the webhook's secret URL); neither should import the other's logic.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any

import httpx

from billbridge.alert_config import AlertsConfig, SmtpConfig

__all__ = ["Deliver", "SmtpFactory"]

SmtpFactory = Callable[[SmtpConfig], smtplib.SMTP]


def _default_smtp(config: SmtpConfig) -> smtplib.SMTP:
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


class Deliver:
    """Sends one message to every channel of the `alerts:` settings (webhook, e-mail)."""

    def __init__(
        self, config: AlertsConfig, client: httpx.Client | None, smtp: SmtpFactory | None
    ) -> None:
        self.config = config
        self.client = client
        self.smtp = smtp or _default_smtp

    def __call__(self, payload: Mapping[str, Any]) -> list[str]:
        """Send to every channel; return what failed (empty: all delivered)."""
        errors: list[str] = []
        if self.config.webhook is not None:
            try:
                self._webhook(payload)
            except httpx.HTTPError as exc:
                errors.append(f"webhook: {type(exc).__name__}: {_safe(exc, self.config)}")
        if self.config.smtp is not None:
            try:
                self._mail(self.config.smtp, payload)
            except (OSError, smtplib.SMTPException) as exc:
                errors.append(f"smtp {self.config.smtp.host}: {exc}")
        return errors

    def _webhook(self, payload: Mapping[str, Any]) -> None:
        assert self.config.webhook is not None
        url = self.config.webhook.get_secret_value()
        client = self.client or httpx.Client(timeout=self.config.timeout)
        try:
            response = client.post(url, json=dict(payload))
            response.raise_for_status()
        finally:
            if self.client is None:
                client.close()

    def _mail(self, smtp: SmtpConfig, payload: Mapping[str, Any]) -> None:
        message = EmailMessage()
        state = str(payload["state"]).upper()
        message["Subject"] = f"[billbridge] {state}: {payload['rule']} {payload['subject']}"
        message["From"] = smtp.sender
        message["To"] = ", ".join(smtp.to)
        lines = [f"{k}: {_mail_text(v)}" for k, v in payload.items() if v is not None]
        message.set_content("\n".join(lines) + "\n")
        with self.smtp(smtp) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username and smtp.password is not None:
                server.login(smtp.username, smtp.password.get_secret_value())
            server.send_message(message)


def _mail_text(value: object) -> str:
    """A value as a mail line shows it: a mapping as `key value, …` (the audit anchor)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _safe(exc: Exception, config: AlertsConfig) -> str:
    """The error text without the webhook URL (it often carries a token)."""
    text = str(exc)
    if config.webhook is not None:
        text = text.replace(config.webhook.get_secret_value(), "<webhook>")
    return text
