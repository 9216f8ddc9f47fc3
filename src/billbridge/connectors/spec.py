"""What a connector package gives billbridge: a `ConnectorSpec`, found by entry point.

Why an entry-point group: a third party adds a connector by installing a package, never
by editing billbridge. A package declares, in its pyproject.toml::

    [project.entry-points."billbridge.connectors"]
    jsonl-file = "billbridge_jsonl:SPEC"

and `SPEC` names the `connector:` value, the pydantic model of its billbridge.yaml
settings (a `ConnectionConfig`), its role and a factory. billbridge's own connectors are
registered the same way (see billbridge's pyproject.toml), so they have no privilege a
plugin lacks. `billbridge.testing.TargetConformance` is the suite every target passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from .base import SourceConnector, TargetConnector, WriteBackConnector
from .records import RecordTarget
from .source import SourceModel
from .webhooks import WebhookCheck

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConnectionConfig",
    "ConnectorSpec",
    "LedgerLine",
]

ENTRY_POINT_GROUP = "billbridge.connectors"

# (entry id, idempotency key, record key, account, currency, amount): one leg as stored,
# `amount` being what it weighs in the ledger's balance. A ledger that keeps a converted
# leg in its transaction currency at a price (Beancount's `119.00 USD @@ 107.10 EUR`)
# adds the leg as written: (…, weight currency, weight, units currency, units).
LedgerLine = (
    tuple[str, str, str, str, str, Decimal] | tuple[str, str, str, str, str, Decimal, str, Decimal]
)


class ConnectionConfig(BaseModel):
    """The settings of one connection in billbridge.yaml; subclass it for a connector.

    Unknown keys are errors and the model is frozen. Set `connector` to a `Literal` of
    the connector's name. The values of `path` and `export` (and a relative
    `sqlite:///` `url`) are made absolute against the workspace before validation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    connector: str
    mode: Literal["sandbox", "production"] = "production"


C = TypeVar("C", bound=ConnectionConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorSpec(Generic[C]):
    """One kind of connection: `name` is its `connector:` value in billbridge.yaml.

    `factory(connection_name, config)` builds a `SourceConnector` (role "source") or a
    `TargetConnector` (role "target"); it runs only when a flow needs the connector.
    `source_model(config)` (required for a source) says how its raw records become
    canonical objects: normalizer, look-ups, aliases, event parsing, reconcile checks
    (`connectors/source.py`); the engine knows nothing else of the source's shapes.
    `record_target(connection_name, config)` builds the side of a system that keeps
    records (`connectors/records.py`), so a flow's `to:` may name it: a record flow.
    `writeback(config)` builds the write-back side, when the system takes changes.
    `ledger_lines(config)` reads every posting back for `books check`, when the target
    is a ledger that can be read.
    `webhook(config)` checks the system's signed webhook deliveries (`connectors/
    webhooks.py`); `billbridge serve` then receives them at `/webhooks/<connection>`.
    `record_fields` names, per canonical object the record target keeps, the canonical
    fields it writes: a two-way pair of flows syncs the fields both sides keep, and each
    of those needs an owner in billbridge.yaml (`owners:`).
    """

    name: str
    config: type[C]
    role: Literal["source", "target"]
    factory: Callable[[str, C], SourceConnector | TargetConnector]
    source_model: Callable[[C], SourceModel] | None = None
    record_target: Callable[[str, C], RecordTarget] | None = None
    writeback: Callable[[C], WriteBackConnector] | None = None
    ledger_lines: Callable[[C], Iterator[LedgerLine]] | None = None
    webhook: Callable[[C], WebhookCheck] | None = None
    # GDPR erasure in files the connector owns: (personal text, subject key) pairs replaced
    # with same-length stand-ins; returns how many were replaced (engine/erase.py)
    scrub: Callable[[C, Sequence[tuple[str, str]]], int] | None = None
    record_fields: Mapping[str, tuple[str, ...]] | None = None
