"""billbridge.yaml: connections, flows and where the state lives, validated with pydantic.

Why strict: a typo in a configuration that silently falls back to a default is how an
integration posts to the wrong account for a month. Unknown keys are errors, every
error names the file, the line and the field, and secrets are only ever references to
environment variables (`${STRIPE_API_KEY}`) held as `SecretStr`, never printed or stored.

This module holds the workspace as a whole (each connection validated by its
connector's model, flows naming real connections, two-way fields with owners) and
loading it; the parts live beside it and are re-exported here: connection_config.py
(the built-in connections), flow_config.py (flows, retries, worker, audit) and
config_errors.py (errors located at a file, line and field).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SerializeAsAny, ValidationError, field_validator, model_validator

from .alert_config import AlertsConfig
from .change_config import ApprovalRule, ChangeControl
from .config_errors import LineValueError, LocatedValueError, NestedError, config_error
from .connection_config import (
    BeancountConnection,
    CsvExportConnection,
    GnuCashConnection,
    LedgerConnection,
    SqlLedgerConnection,
    StripeConnection,
    StripeObjectName,
)
from .connectors.base import FatalError
from .connectors.registry import connector_names, connector_spec
from .connectors.spec import ConnectionConfig
from .flow_config import (
    DEFAULT_HOLD_TIMEOUT,
    AuditConfig,
    FlowConfig,
    RetryConfig,
    Strict,
    WorkerConfig,
)
from .twoway_config import OwnerConfig, owner_problems, owner_short_form, two_way_pairs
from .yamlsource import ConfigError, load_yaml

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_HOLD_TIMEOUT",
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
    "StripeObjectName",
    "WorkerConfig",
    "Workspace",
    "load_workspace",
]

CONFIG_NAME = "billbridge.yaml"
STATE_ENV = "BILLBRIDGE_STATE"


class Workspace(Strict):
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
                raise LocatedValueError(
                    ("approvals", index, "name"), f"duplicate approval rule {name!r}"
                )
        names = set()
        for index, flow in enumerate(self.flows):
            if flow.name in names:
                raise LocatedValueError(("flows", index, "name"), f"duplicate flow {flow.name!r}")
            names.add(flow.name)
            for end, field in (("from", flow.source), ("to", flow.target)):
                if field not in self.connections:
                    known = ", ".join(sorted(self.connections)) or "none"
                    raise LocatedValueError(
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
                    raise LocatedValueError(
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
            raise LineValueError(field, line, message)
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
            raise LocatedValueError(
                where, f"unknown key {typo[0]!r}: a misspelling of `connector`? ({known})"
            )
        raise LocatedValueError(loc, f"required, but missing; one of: {known}")
    if not isinstance(kind, str):
        raise LocatedValueError(loc, f"must be a connector name (got {kind!r})")
    try:
        spec = connector_spec(kind)
    except FatalError as exc:  # unknown, or its package failed to load
        raise LocatedValueError(loc, str(exc)) from None
    try:
        return spec.config.model_validate(conn)
    except ValidationError as exc:
        raise NestedError(("connections", name), exc) from None


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
        top = [f.alias or name for name, f in Workspace.model_fields.items() if name != "root"]
        raise config_error(doc, exc, top) from None
