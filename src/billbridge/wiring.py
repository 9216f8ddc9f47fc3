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
from .engine.model import FlowRuntime
from .engine.retry import RetryPolicy
from .engine.words import Describe, RecordNamer
from .mapping.model import load_mapping
from .store import Store, open_store

__all__ = [
    "build_flow",
    "describe_records",
    "flows",
    "ledger_lines",
    "open_workspace_store",
    "record_namer",
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


def build_flow(workspace: Workspace, name: str) -> FlowRuntime:
    from .formats.stripe import LOOKUPS, normalize  # noqa: PLC0415

    flow = workspace.flow(name)
    return FlowRuntime(
        name=flow.name,
        source=_source(flow.source, workspace.connections[flow.source]),
        target=_target(flow.target, workspace.connections[flow.target]),
        normalize=normalize,
        mapping=load_mapping(flow.mapping),
        retry=RetryPolicy(
            attempts=flow.retry.attempts,
            base_seconds=flow.retry.base_seconds,
            max_seconds=flow.retry.max_seconds,
        ),
        batch_size=workspace.batch_size,
        aliases={"invoice": _invoice_aliases, "invoice_payment": _invoice_payment_aliases},
        lookups=LOOKUPS,
    )


def describe_records(workspace: Workspace) -> Describe:
    """How the workspace's source records read to a person (the source format's words).

    Every flow reads Stripe JSON today (see `build_flow`); a source format of another
    system would bring its own `describe`.
    """
    from .formats.stripe import describe  # noqa: PLC0415

    return describe


def record_namer(workspace: Workspace, store: Store) -> RecordNamer:
    """Words for the workspace's records, read from the store's snapshots."""
    return RecordNamer(store, describe_records(workspace))


@contextmanager
def flows(workspace: Workspace) -> Iterator[Callable[[str], FlowRuntime]]:
    """A cached `name -> FlowRuntime`; every target built is closed (its lock released)."""
    built: dict[str, FlowRuntime] = {}

    def lookup(name: str) -> FlowRuntime:
        if name not in built:
            built[name] = build_flow(workspace, name)
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
