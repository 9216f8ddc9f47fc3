"""Builds the run-time pieces of a workspace: its store and each flow's source, target and mapping.

Why a module of its own: the engine never imports a concrete connector, and the CLI
and the service must build flows the same way. This is the one place that knows which
connector class serves which `connector:` name in billbridge.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from .config import (
    CONFIG_NAME,
    BeancountConnection,
    ConfigError,
    CsvExportConnection,
    GnuCashConnection,
    LedgerConnection,
    SqlLedgerConnection,
    StripeConnection,
    Workspace,
)
from .connectors.base import FatalError, SourceConnector, TargetConnector, WriteBackConnector
from .engine.model import FlowRuntime
from .engine.retry import RetryPolicy
from .mapping.model import load_mapping
from .store import Store, open_store

__all__ = [
    "build_flow",
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


def _source(name: str, conn: StripeConnection) -> SourceConnector:
    from .connectors.stripe_export import StripeExportSource  # noqa: PLC0415

    if conn.export is None:
        return _stripe_api_source(name, conn)
    return StripeExportSource(name, conn.export)


def _stripe_api_source(name: str, conn: StripeConnection) -> SourceConnector:
    from .connectors.stripe_api import (  # noqa: PLC0415
        DEFAULT_API_VERSION,
        StripeApi,
        StripeApiSource,
        default_objects,
    )

    if conn.api_key is None:
        raise FatalError(f"connection {name!r} has neither `export:` nor `api_key:`")
    version = conn.api_version or DEFAULT_API_VERSION
    api = StripeApi(
        api_key=conn.api_key.get_secret_value(),
        api_version=version,
        api_base=conn.api_base,
        rate=conn.rate_limit,
    )
    return StripeApiSource(name, api, objects=conn.objects or default_objects(version))


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


def writeback_connector(conn: StripeConnection) -> WriteBackConnector:
    """The write-back side of a live Stripe connection (pinned version, paced, translated)."""
    from .connectors.stripe_api import (  # noqa: PLC0415
        DEFAULT_API_VERSION,
        StripeApi,
        StripeWriteBack,
    )

    assert conn.api_key is not None  # writeback_connection checked it
    api = StripeApi(
        api_key=conn.api_key.get_secret_value(),
        api_version=conn.api_version or DEFAULT_API_VERSION,
        api_base=conn.api_base,
        rate=conn.rate_limit,
    )
    return StripeWriteBack(api)


def _target(name: str, conn: LedgerConnection) -> TargetConnector:
    if isinstance(conn, GnuCashConnection):
        from .connectors.gnucash import GnuCashTarget  # noqa: PLC0415

        return GnuCashTarget(name, conn.path, currency=conn.currency)
    if isinstance(conn, SqlLedgerConnection):
        from .connectors.sqlgl import SqlLedgerTarget  # noqa: PLC0415

        return SqlLedgerTarget(name, conn.url)
    if isinstance(conn, CsvExportConnection):
        from .connectors.csv_export import CsvExportTarget  # noqa: PLC0415

        return CsvExportTarget(name, conn.path, conn.format, tax_type=conn.tax_type)
    from .connectors.beancount import BeancountTarget  # noqa: PLC0415

    return BeancountTarget(name, conn.path)


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
    from .formats.stripe import normalize  # noqa: PLC0415

    flow = workspace.flow(name)
    source = workspace.connections[flow.source]
    target = workspace.connections[flow.target]
    assert isinstance(source, StripeConnection)
    assert isinstance(target, LedgerConnection)
    return FlowRuntime(
        name=flow.name,
        source=_source(flow.source, source),
        target=_target(flow.target, target),
        normalize=normalize,
        mapping=load_mapping(flow.mapping),
        retry=RetryPolicy(
            attempts=flow.retry.attempts,
            base_seconds=flow.retry.base_seconds,
            max_seconds=flow.retry.max_seconds,
        ),
        batch_size=workspace.batch_size,
        aliases={"invoice": _invoice_aliases, "invoice_payment": _invoice_payment_aliases},
    )


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


def ledger_lines(
    workspace: Workspace, flow_name: str
) -> Iterator[tuple[str, str, str, str, str, Decimal]]:
    """Every posting the flow's target holds, read back from the target itself."""
    flow = workspace.flow(flow_name)
    conn = workspace.connections[flow.target]
    if isinstance(conn, GnuCashConnection):
        from .connectors.gnucash import ledger_lines as gnucash_lines  # noqa: PLC0415

        return gnucash_lines(conn.path)
    if isinstance(conn, SqlLedgerConnection):
        from .connectors.sqlgl import ledger_lines as sql_lines  # noqa: PLC0415

        return sql_lines(conn.url)
    if isinstance(conn, CsvExportConnection):
        raise FatalError(
            f"flow {flow_name!r} exports files for manual import ({conn.format}); "
            "`books check` reads ledgers: check the books you imported them into"
        )
    from .connectors.beancount import ledger_lines as beancount_lines  # noqa: PLC0415

    assert isinstance(conn, BeancountConnection)  # the config only lets ledgers be targets
    return beancount_lines(conn.path)
