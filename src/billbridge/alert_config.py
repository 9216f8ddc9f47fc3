"""The `alerts:` section of billbridge.yaml: rules, and where alerts go (webhook, SMTP).

Why its own module: `config.py` holds the workspace shape shared by every part; the
alert rules change with operators' needs. Secrets (an SMTP password, a webhook URL that
carries a token) are `SecretStr`, given as `${ENV_VAR}` references, never printed.
Every rule is off unless written out (an alert nobody asked for is noise), except
`cleanup_minutes`: the estimated clean-up time passing 30 minutes is what the product is
judged by, so it is on at 30 unless set otherwise (or to null).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["AlertRules", "AlertsConfig", "SmtpConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SmtpConfig(_Strict):
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout: float = Field(default=10.0, gt=0)


class AlertRules(_Strict):
    """Thresholds; hours may be fractions (0.5 is thirty minutes)."""

    queue_older_than_hours: float | None = Field(default=None, ge=0)
    failure_rate_percent: float | None = Field(default=None, ge=0, le=100)
    duplicate_posting: bool = False
    number_duplicate: bool = False  # two invoices with one number (reconcile's finding)
    status_mismatch_older_than_hours: float | None = Field(default=None, ge=0)
    flow_not_succeeded_hours: float | None = Field(default=None, gt=0)
    rate_limit_wait_percent: float | None = Field(default=None, ge=0, le=100)
    # The day's estimated clean-up time (engine/cleanup.py) above this many minutes. On by
    # default: the product is judged by a clean-up under 30 minutes a day (null: off).
    cleanup_minutes: float | None = Field(default=30, gt=0)
    # customer success: a deal's plan changed to one worth more (engine/notify.py)
    plan_upgrade: bool = False


class AlertsConfig(_Strict):
    webhook: SecretStr | None = None
    smtp: SmtpConfig | None = None
    rules: AlertRules = AlertRules()
    timeout: float = Field(default=10.0, gt=0)  # seconds, for the webhook

    @model_validator(mode="after")
    def _needs_a_channel(self) -> AlertsConfig:
        if self.webhook is None and self.smtp is None:
            raise ValueError("set `webhook: <url>` or `smtp:` (or both) to deliver alerts")
        return self
