"""billbridge.yaml: connections, flows and where the state lives, validated with pydantic.

Why strict: a typo in a configuration that silently falls back to a default is how an
integration posts to the wrong account for a month. Unknown keys are errors, every
error names the file, the line and the field, and secrets are only ever references to
environment variables (`${STRIPE_API_KEY}`) held as `SecretStr`, never printed or stored.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from .alert_config import AlertsConfig
from .change_config import ApprovalRule, ChangeControl
from .connectors.base import FatalError
from .connectors.registry import connector_names, connector_spec
from .connectors.spec import ConnectionConfig
from .twoway_config import OwnerConfig, owner_problems, owner_short_form, two_way_pairs
from .yamlsource import ConfigError, LocatedYaml, first_error, load_yaml

__all__ = [
    "CONFIG_NAME",
    "AuditConfig",
    "BeancountConnection",
    "ConfigError",
    "ConnectionConfig",
    "CsvExportConnection",
    "FlowConfig",
    "GnuCashConnection",
    "LedgerConnection",
    "OwnerConfig",
    "RetryConfig",
    "SqlLedgerConnection",
    "StripeConnection",
    "WorkerConfig",
    "Workspace",
    "load_workspace",
]

CONFIG_NAME = "billbridge.yaml"
DEFAULT_HOLD_TIMEOUT = "3d"
STATE_ENV = "BILLBRIDGE_STATE"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


StripeObjectName = Literal[
    "customers",
    "balance_transactions",
    "invoices",
    "invoice_payments",
    "payment_intents",
    "charges",
    "refunds",
    "credit_notes",
    "payouts",
]


class StripeConnection(ConnectionConfig):
    """Stripe, read from an export file (JSONL of API objects) or the live API (`api_key`)."""

    connector: Literal["stripe"]
    mode: Literal["sandbox", "production"] = "sandbox"
    export: Path | None = None
    api_key: SecretStr | None = None
    api_version: str | None = None
    rate_limit: float | None = Field(default=None, gt=0)
    api_base: str | None = Field(default=None, pattern=r"^https?://")
    webhook_secret: SecretStr | None = None
    objects: tuple[StripeObjectName, ...] | None = None

    @model_validator(mode="after")
    def _needs_a_source(self) -> StripeConnection:
        if self.export is None and self.api_key is None:
            raise ValueError("set `export: <file.jsonl>` or `api_key: ${STRIPE_API_KEY}`")
        if self.api_key is not None:
            _check_key_mode(self.api_key.get_secret_value(), self.mode)
        return self


def _check_key_mode(key: str, mode: str) -> None:
    """A test key on a production connection (or the reverse) posts to the wrong books."""
    live = key.startswith(("sk_live_", "rk_live_"))
    test = key.startswith(("sk_test_", "rk_test_"))
    if not (live or test):
        raise _FieldValueError(
            ("api_key",),
            "is not a Stripe secret key (expected sk_test_…/rk_test_… or sk_live_…/rk_live_…)",
        )
    if mode == "production" and test:
        raise _FieldValueError(
            ("api_key",),
            "is a test-mode key (sk_test_…) on a `mode: production` connection; use the live "
            "key or set `mode: sandbox`",
        )
    if mode == "sandbox" and live:
        raise _FieldValueError(
            ("api_key",),
            "is a live key (sk_live_…) on a `mode: sandbox` connection; use a test key or set "
            "`mode: production`",
        )


class BeancountConnection(ConnectionConfig):
    """A Beancount ledger: `path` is the user's main file; billbridge appends beside it."""

    connector: Literal["beancount"]
    path: Path
    mode: Literal["sandbox", "production"] = "production"


class GnuCashConnection(ConnectionConfig):
    """A GnuCash book (SQLite file); `currency`: base currency of a book billbridge creates."""

    connector: Literal["gnucash"]
    path: Path
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    mode: Literal["sandbox", "production"] = "production"


class SqlLedgerConnection(ConnectionConfig):
    """`journal` + `journal_line` tables in the database at `url` (sqlite:/// or postgresql://)."""

    connector: Literal["sqlgl"]
    url: str = Field(pattern=r"^(sqlite:///|postgresql://|postgres://)")
    mode: Literal["sandbox", "production"] = "production"


class CsvExportConnection(ConnectionConfig):
    """Files for manual import: one CSV per run in the folder `path`, in an import `format`."""

    connector: Literal["csv-export"]
    path: Path
    format: Literal["quickbooks-journal", "xero-sales-invoices"]
    tax_type: str | None = None  # Xero's *TaxType for every line, e.g. "Tax Exempt"
    mode: Literal["sandbox", "production"] = "production"

    @model_validator(mode="after")
    def _xero_needs_a_tax_type(self) -> CsvExportConnection:
        if self.format == "xero-sales-invoices" and not self.tax_type:
            raise ValueError(
                "set `tax_type:` to the Xero tax rate name for the lines, e.g. `Tax Exempt`"
            )
        return self


# billbridge's own ledger targets; a workspace may name any installed connector (plugins).
LedgerConnection = (
    BeancountConnection | GnuCashConnection | SqlLedgerConnection | CsvExportConnection
)


class RetryConfig(_Strict):
    """How a retryable failure (locked file, unavailable target) is retried before queueing."""

    attempts: int = Field(default=3, ge=0, le=20)
    base_seconds: float = Field(default=0.2, ge=0)
    max_seconds: float = Field(default=30.0, ge=0)


class FlowConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    mapping: Path
    retry: RetryConfig = RetryConfig()
    # How often `billbridge worker` runs an incremental sync of this flow ("30s", "15m",
    # "1h"); absent: the worker only drains the flow's webhook inbox and never polls.
    every: str | None = None
    # How long a held record may wait for what it waits for (its invoice, its charge)
    # before the hold becomes a failed queue row saying what never came ("3d", "12h").
    hold_timeout: str = DEFAULT_HOLD_TIMEOUT
    # `monthly`: the worker posts deferred revenue recognition (`billbridge recognize`)
    # through the end of each month once it is over; absent: only the command does.
    recognize: Literal["monthly"] | None = None

    @field_validator("every")
    @classmethod
    def _every_is_a_duration(cls, value: str | None) -> str | None:
        return None if value is None else _duration(value)

    @field_validator("hold_timeout")
    @classmethod
    def _hold_timeout_is_a_duration(cls, value: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]*[smhd]", value):
            raise ValueError(
                f"{value!r} is not a duration: write a number and s, m, h or d (3d, 12h)"
            )
        return value

    @property
    def every_seconds(self) -> int | None:
        return None if self.every is None else _seconds(self.every)

    @property
    def hold_timeout_seconds(self) -> int:
        return _seconds(self.hold_timeout)


def _duration(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[smh]", value):
        raise ValueError(f"{value!r} is not a duration: write a number and s, m or h (15m)")
    return value


def _seconds(duration: str) -> int:
    """A validated duration ("15m", "3d") in seconds."""
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[duration[-1]]


class WorkerConfig(_Strict):
    """`worker:` — how PostgreSQL workers watch each other (procrastinate heartbeats).

    A worker beats every quarter of `stalled_after`; one silent for longer is taken for
    dead (killed, its machine gone), and the job it was running is run again by another
    worker: a flow is taken over within about `stalled_after` and a half.
    """

    stalled_after: str = "60s"

    @field_validator("stalled_after")
    @classmethod
    def _a_duration(cls, value: str) -> str:
        return _duration(value)

    @property
    def stalled_seconds(self) -> int:
        return _seconds(self.stalled_after)


class AuditConfig(_Strict):
    """`audit:` — where the audit chain's anchors (its head, witnessed outside the state
    store) are appended; relative to the workspace. Put them on other storage than the
    state (another disk, an append-only mount) so one mishap cannot take both."""

    anchors: Path = Path(".billbridge/audit-anchors")


class Workspace(_Strict):
    """A loaded, validated billbridge.yaml; paths are absolute (relative to the file)."""

    root: Path = Path()
    # Each value is validated by the model of its `connector:` (found by entry point).
    connections: dict[str, SerializeAsAny[ConnectionConfig]]
    flows: list[FlowConfig]
    state: str = ".billbridge/state.db"
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    alerts: AlertsConfig | None = None
    audit: AuditConfig = AuditConfig()
    worker: WorkerConfig = WorkerConfig()
    change_control: ChangeControl = ChangeControl()  # change_config.py: four-eyes
    approvals: list[ApprovalRule] = Field(default_factory=list)  # records held for a person
    owners: dict[str, dict[str, OwnerConfig]] = Field(default_factory=dict)

    @field_validator("owners", mode="before")
    @classmethod
    def _owners_short_form(cls, value: Any) -> Any:
        return owner_short_form(value)

    @field_validator("connections", mode="before")
    @classmethod
    def _each_by_its_connector(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # pydantic reports the wrong type
        return {name: _connection(name, conn) for name, conn in value.items()}

    @model_validator(mode="after")
    def _flows_name_connections(self) -> Workspace:
        rules = [rule.name for rule in self.approvals]
        for index, name in enumerate(rules):
            if name in rules[:index]:
                raise _LocatedValueError(
                    ("approvals", index, "name"), f"duplicate approval rule {name!r}"
                )
        names = set()
        for index, flow in enumerate(self.flows):
            if flow.name in names:
                raise _LocatedValueError(("flows", index, "name"), f"duplicate flow {flow.name!r}")
            names.add(flow.name)
            for end, field in (("from", flow.source), ("to", flow.target)):
                if field not in self.connections:
                    known = ", ".join(sorted(self.connections)) or "none"
                    raise _LocatedValueError(
                        ("flows", index, end),
                        f"{field!r} is not a connection (known: {known})",
                    )
            for end, field, role in (
                ("from", flow.source, "source"),
                ("to", flow.target, "target"),
            ):
                kind = self.connections[field].connector
                spec = connector_spec(kind)
                if spec.role != role and not (role == "target" and spec.record_target):
                    what = (
                        "source connection"
                        if role == "source"
                        else "ledger (target) connection or one that keeps records"
                    )
                    raise _LocatedValueError(
                        ("flows", index, end),
                        f"must be a {what}; {field!r} is a {kind} connection",
                    )
        return self

    @model_validator(mode="after")
    def _two_way_fields_have_owners(self) -> Workspace:
        kinds = {name: conn.connector for name, conn in self.connections.items()}
        problems = owner_problems(two_way_pairs(self.flows, kinds), self.owners)
        if problems:
            field, line, message = problems[0]
            raise _LineValueError(field, line, message)
        return self

    def flow(self, name: str) -> FlowConfig:
        for flow in self.flows:
            if flow.name == name:
                return flow
        known = ", ".join(f.name for f in self.flows) or "none"
        raise ConfigError(
            self.root / CONFIG_NAME, None, "flows", f"no flow {name!r} (known: {known})"
        )

    def is_production(self, flow: str) -> bool:
        """A flow touches production when its source or its target connection does."""
        found = self.flow(flow)
        modes = {self.connections[found.source].mode, self.connections[found.target].mode}
        return "production" in modes

    def state_url(self) -> str:
        """The state store: BILLBRIDGE_STATE overrides `state:`; a path is SQLite."""
        url = os.environ.get(STATE_ENV) or self.state
        if "://" in url:
            return url
        return f"sqlite:///{(self.root / url).resolve()}"


class _LocatedValueError(ValueError):
    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


class _LineValueError(_LocatedValueError):
    """A located error shown at another path's line (the field it names may be absent)."""

    def __init__(
        self, loc: tuple[str | int, ...], line: tuple[str | int, ...], message: str
    ) -> None:
        super().__init__(loc, message)
        self.line = line


class _FieldValueError(_LocatedValueError):
    """A located error whose `loc` is relative to the model that raised it."""


class _NestedError(ValueError):
    """A connection's own model refused it: its errors, under `connections.<name>`."""

    def __init__(self, loc: tuple[str | int, ...], error: ValidationError) -> None:
        self.loc = loc
        self.error = error
        super().__init__(str(error))


def _connection(name: str, conn: Any) -> Any:
    """Validate one connection with the model of its `connector:`, found by entry point."""
    if not isinstance(conn, dict):
        return conn  # a model already, or a wrong type pydantic reports
    loc: tuple[str | int, ...] = ("connections", name, "connector")
    kind = conn.get("connector")
    if kind is None:
        known = ", ".join(connector_names()) or "none"
        typo = difflib.get_close_matches("connector", [str(k) for k in conn], n=1, cutoff=0.6)
        if typo:
            where: tuple[str | int, ...] = ("connections", name, typo[0])
            raise _LocatedValueError(
                where, f"unknown key {typo[0]!r}: a misspelling of `connector`? ({known})"
            )
        raise _LocatedValueError(loc, f"required, but missing; one of: {known}")
    if not isinstance(kind, str):
        raise _LocatedValueError(loc, f"must be a connector name (got {kind!r})")
    try:
        spec = connector_spec(kind)
    except FatalError as exc:  # unknown, or its package failed to load
        raise _LocatedValueError(loc, str(exc)) from None
    try:
        return spec.config.model_validate(conn)
    except ValidationError as exc:
        raise _NestedError(("connections", name), exc) from None


def _resolve_paths(data: dict[str, Any], root: Path) -> None:
    for conn in (data.get("connections") or {}).values():
        if isinstance(conn, dict):
            for key in ("export", "path"):
                if isinstance(conn.get(key), str):
                    conn[key] = str((root / conn[key]).resolve())
            url = conn.get("url")
            if isinstance(url, str) and url.startswith("sqlite:///") and url[10:11] != "/":
                conn["url"] = f"sqlite:///{(root / url[10:]).resolve()}"
    for flow in data.get("flows") or []:
        if isinstance(flow, dict) and isinstance(flow.get("mapping"), str):
            flow["mapping"] = str((root / flow["mapping"]).resolve())


def load_workspace(path: Path, *, env: Mapping[str, str] | None = None) -> Workspace:
    """Load billbridge.yaml (or the one in a directory); raise ConfigError naming the place."""
    if path.is_dir():
        path = path / CONFIG_NAME
    doc = load_yaml(path, env=env)
    if not isinstance(doc.data, dict):
        raise ConfigError(path, 1, "", "expected a mapping with `connections:` and `flows:`")
    data = dict(doc.data)
    root = path.parent.resolve()
    _resolve_paths(data, root)
    data["root"] = root
    try:
        return Workspace.model_validate(data)
    except ValidationError as exc:
        raise _config_error(doc, exc) from None


def _config_error(doc: LocatedYaml, exc: ValidationError) -> ConfigError:
    top = [f.alias or name for name, f in Workspace.model_fields.items() if name != "root"]
    error, misspelled = first_error(exc.errors(), top)
    ctx_error = (error.get("ctx") or {}).get("error")
    prefix: tuple[str | int, ...] = ()
    if isinstance(ctx_error, _NestedError):  # a connection's model: its own first error
        prefix, error = ctx_error.loc, ctx_error.error.errors()[0]
        ctx_error = (error.get("ctx") or {}).get("error")
    loc: tuple[str | int, ...] = (*prefix, *error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if isinstance(ctx_error, _FieldValueError):
        loc, message = (*loc, *ctx_error.loc), str(ctx_error)
    elif isinstance(ctx_error, _LocatedValueError):
        loc, message = ctx_error.loc, str(ctx_error)
    line_loc = ctx_error.line if isinstance(ctx_error, _LineValueError) else loc
    shown = list(loc)
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in shown).lstrip(".")
    if error["type"] == "extra_forbidden":
        message = misspelled or f"unknown key {shown[-1]!r}; check its spelling"
    elif error["type"] == "missing":
        message = "required, but missing"
    elif "input" in error and not isinstance(error["input"], dict | list):
        secret = any(name in field for name in ("api_key", "password", "webhook", "secret"))
        shown_input = "<secret>" if secret else repr(error["input"])
        message = f"{message} (got {shown_input})"
    return ConfigError(doc.path, doc.line_of(line_loc), field, message)
