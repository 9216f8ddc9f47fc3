"""Builds the run-time pieces of a workspace: its store and each flow's source, target and mapping.

Why a module of its own: the engine never imports a concrete connector, and the CLI
and the service must build flows the same way. Which connector serves which
`connector:` name is the registry's business (`connectors.registry`, an entry-point group).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from .config import CONFIG_NAME, ConfigError, CsvExportConnection, StripeConnection, Workspace
from .connectors.base import FatalError, SourceConnector, TargetConnector, WriteBackConnector
from .connectors.registry import spec_for
from .connectors.spec import ConnectionConfig, LedgerLine
from .engine.model import FlowRuntime, Normalize
from .engine.retry import RetryPolicy
from .flow_mapping import flow_mapping
from .store import Store, open_store

__all__ = [
    "build_flow",
    "flow_normalizer",
    "flows",
    "ledger_lines",
    "open_workspace_store",
    "writeback_connection",
    "writeback_connector",
]


def open_workspace_store(workspace: Workspace) -> Store:
    url = workspace.state_url()
    if url.startswith("sqlite:///"):
        from pathlib import Path  # noqa: PLC0415

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return open_store(url)


def _source(name: str, conn: ConnectionConfig) -> SourceConnector:
    spec = spec_for(conn)
    assert spec.role == "source"  # the workspace checked each flow's `from:`
    return cast(SourceConnector, spec.factory(name, conn))


def _target(name: str, conn: ConnectionConfig) -> TargetConnector:
    spec = spec_for(conn)
    assert spec.role == "target"  # the workspace checked each flow's `to:`
    return cast(TargetConnector, spec.factory(name, conn))


def writeback_connection(workspace: Workspace, name: str | None) -> tuple[str, StripeConnection]:
    """The live Stripe connection a write-back goes to: `name`, or the only one there is."""
    where = workspace.root / CONFIG_NAME
    live = {
        n: c
        for n, c in workspace.connections.items()
        if isinstance(c, StripeConnection) and c.api_key is not None
    }
    if name is None:
        if len(live) != 1:
            found = ", ".join(sorted(live)) or "none"
            raise ConfigError(
                where, None, "connections",
                f"name the Stripe connection with --connection (live Stripe connections: {found})",
            )  # fmt: skip
        name = next(iter(live))
    conn = workspace.connections.get(name)
    if not isinstance(conn, StripeConnection):
        stripe = (n for n, c in workspace.connections.items() if isinstance(c, StripeConnection))
        known = ", ".join(sorted(stripe)) or "none"
        raise ConfigError(
            where, None, f"connections.{name}",
            f"no Stripe connection {name!r} (Stripe connections: {known})",
        )  # fmt: skip
    if conn.api_key is None:
        raise ConfigError(
            where, None, f"connections.{name}.api_key",
            "write-back needs the live API: set `api_key: ${STRIPE_API_KEY}` "
            "(an `export:` file can only be read)",
        )  # fmt: skip
    return name, conn


def writeback_connector(conn: ConnectionConfig) -> WriteBackConnector:
    """The write-back side of a connection, built by its connector's `writeback` factory."""
    spec = spec_for(conn)
    if spec.writeback is None:
        raise FatalError(f"the {conn.connector} connector cannot write back")
    return spec.writeback(conn)


def _invoice_aliases(data: Mapping[str, Any]) -> list[str]:
    number = data.get("number")
    return [f"invoice_number:{number}"] if isinstance(number, str) and number else []


def _invoice_payment_aliases(data: Mapping[str, Any]) -> list[str]:
    payment = data.get("payment")
    if not isinstance(payment, Mapping):
        return []
    ids = [payment.get("payment_intent"), payment.get("charge")]
    return [f"invoice_payment_by_payment:{i}" for i in ids if isinstance(i, str) and i]


def build_flow(
    workspace: Workspace, name: str, *, store: Store | None = None, actor: str = "system"
) -> FlowRuntime:
    """The flow ready to run, with the mapping version it runs now (`flow_mapping.py`).

    `store` answers which version is promoted (the workspace's own store is opened for
    that when None); `actor` is named on the audit row of a first bootstrap or a draft.
    """
    flow = workspace.flow(name)
    chosen = flow_mapping(workspace, name, store=store, actor=actor)
    normalize, lookups = flow_normalizer(workspace, name)
    return FlowRuntime(
        name=flow.name,
        source=_source(flow.source, workspace.connections[flow.source]),
        target=_target(flow.target, workspace.connections[flow.target]),
        normalize=normalize,
        mapping=chosen.mapping,
        mapping_state=chosen,
        approvals=tuple(workspace.approvals),
        retry=RetryPolicy(
            attempts=flow.retry.attempts,
            base_seconds=flow.retry.base_seconds,
            max_seconds=flow.retry.max_seconds,
        ),
        batch_size=workspace.batch_size,
        aliases={"invoice": _invoice_aliases, "invoice_payment": _invoice_payment_aliases},
        lookups=lookups,
    )


def flow_normalizer(
    workspace: Workspace, name: str
) -> tuple[Normalize, Mapping[str, Callable[[Mapping[str, Any]], list[str]]]]:
    """The flow's normalizer and look-ups, without opening its target (`mapping test`)."""
    from .formats.stripe import LOOKUPS, normalize  # noqa: PLC0415

    workspace.flow(name)  # an unknown flow is a ConfigError naming the known ones
    return normalize, LOOKUPS


@contextmanager
def flows(
    workspace: Workspace, *, store: Store | None = None, actor: str = "system"
) -> Iterator[Callable[[str], FlowRuntime]]:
    """A cached `name -> FlowRuntime`; every target built is closed (its lock released)."""
    built: dict[str, FlowRuntime] = {}

    def lookup(name: str) -> FlowRuntime:
        if name not in built:
            built[name] = build_flow(workspace, name, store=store, actor=actor)
        return built[name]

    try:
        yield lookup
    finally:
        for flow in built.values():
            flow.target.close()


def ledger_lines(workspace: Workspace, flow_name: str) -> Iterator[LedgerLine]:
    """Every posting the flow's target holds, read back from the target itself."""
    flow = workspace.flow(flow_name)
    conn = workspace.connections[flow.target]
    read = spec_for(conn).ledger_lines
    if read is None:
        what = (
            f"exports files for manual import ({conn.format})"
            if isinstance(conn, CsvExportConnection)
            else f"writes to a {conn.connector} target, which cannot be read back"
        )
        raise FatalError(
            f"flow {flow_name!r} {what}; `books check` reads ledgers: check the books "
            "you imported them into"
        )
    return read(conn)
