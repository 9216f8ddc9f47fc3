"""Builds the run-time pieces of a workspace: its store and each flow's source, target and mapping.

Why a module of its own: the engine never imports a concrete connector, and the CLI
and the service must build flows the same way. Which connector serves which
`connector:` name is the registry's business (`connectors.registry`, an entry-point group).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Any, cast

from .config import CONFIG_NAME, ConfigError, CsvExportConnection, StripeConnection, Workspace
from .connectors.base import FatalError, SourceConnector, TargetConnector, WriteBackConnector
from .connectors.registry import spec_for
from .connectors.source import SourceModel
from .connectors.spec import ConnectionConfig, LedgerLine
from .engine.model import FlowRuntime, Normalize
from .engine.owners import FieldOwner, Policy
from .engine.records import LedgerlessTarget
from .engine.retry import RetryPolicy
from .engine.twoway import TwoWaySync
from .engine.words import RecordNamer
from .flow_mapping import flow_mapping
from .store import Store, open_store
from .store.base import Records
from .twoway_config import two_way_pairs

__all__ = [
    "build_flow",
    "erasure_parts",
    "flow_normalizer",
    "flows",
    "ledger_lines",
    "open_workspace_store",
    "record_namer",
    "source_model",
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
    """A ledger, or a system that keeps records (a record flow) behind the same protocol."""
    spec = spec_for(conn)
    if spec.role == "target":
        return cast(TargetConnector, spec.factory(name, conn))
    assert spec.record_target is not None  # the workspace checked each flow's `to:`
    return LedgerlessTarget(spec.record_target(name, conn))


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


def source_model(conn: ConnectionConfig) -> SourceModel:
    """How the source connection's records become canonical objects (its spec says)."""
    spec = spec_for(conn)
    if spec.source_model is None:  # the registry refuses such a source spec
        raise FatalError(f"the {conn.connector} connector gives no source model")
    return spec.source_model(conn)


def _twoway(workspace: Workspace, name: str) -> TwoWaySync | None:
    """The flow's part of a two-way pair (both sides' record targets and models), if any."""
    kinds = {n: c.connector for n, c in workspace.connections.items()}
    flow = workspace.flow(name)
    for plan in two_way_pairs(workspace.flows, kinds):
        if name not in (plan.flow_ab, plan.flow_ba):
            continue
        this_conn = workspace.connections[flow.source]
        make = spec_for(this_conn).record_target
        assert make is not None  # a pair is two record flows
        owners = {
            obj: {f: FieldOwner(owner=o.owner, policy=Policy(o.policy)) for f, o in rules.items()}
            for obj, rules in workspace.owners.items()
        }
        return TwoWaySync(
            pair=plan.pair, a=plan.a, b=plan.b, this=flow.source, other=flow.target,
            objects=plan.objects, owners=owners, conflict_flow=plan.flow_ab,
            this_target=make(flow.source, this_conn),
            other_normalize=source_model(workspace.connections[flow.target]).normalize,
        )  # fmt: skip
    return None


def build_flow(
    workspace: Workspace, name: str, *, store: Store | None = None, actor: str = "system"
) -> FlowRuntime:
    """The flow ready to run, with the mapping version it runs now (`flow_mapping.py`).

    `store` answers which version is promoted (the workspace's own store is opened for
    that when None); `actor` is named on the audit row of a first bootstrap or a draft.
    """
    flow = workspace.flow(name)
    chosen = flow_mapping(workspace, name, store=store, actor=actor)
    conn = workspace.connections[flow.source]
    model = source_model(conn)
    alerts = workspace.alerts
    return FlowRuntime(
        name=flow.name,
        source=_source(flow.source, conn),
        target=_target(flow.target, workspace.connections[flow.target]),
        normalize=model.normalize,
        mapping=chosen.mapping,
        mapping_state=chosen,
        approvals=tuple(workspace.approvals),
        retry=RetryPolicy(
            attempts=flow.retry.attempts,
            base_seconds=flow.retry.base_seconds,
            max_seconds=flow.retry.max_seconds,
        ),
        batch_size=workspace.batch_size,
        aliases=model.aliases,
        lookups=model.lookups,
        describe=model.describe,
        parse_event=model.parse_event,
        checks=model.checks,
        payment_object=model.payment_object,
        lifecycle=model.lifecycle,
        hold_timeout=timedelta(seconds=flow.hold_timeout_seconds),
        revisits=model.revisits,
        twoway=_twoway(workspace, name),
        notify_upgrades=alerts is not None and alerts.rules.plan_upgrade,
        subjects=model.subjects,
        redact=model.redact,
    )


def record_namer(workspace: Workspace, store: Records) -> RecordNamer:
    """Words for the workspace's records, read from the store's snapshots, each in the
    words of its connection's source model."""
    words = {}
    for name in {flow.source for flow in workspace.flows}:
        said = source_model(workspace.connections[name]).words
        if said is not None:
            words[name] = said
    return RecordNamer(store, words)


def flow_normalizer(
    workspace: Workspace, name: str
) -> tuple[Normalize, Mapping[str, Callable[[Mapping[str, Any]], list[str]]]]:
    """The flow's normalizer and look-ups, without opening its target (`mapping test`)."""
    flow = workspace.flow(name)  # an unknown flow is a ConfigError naming the known ones
    model = source_model(workspace.connections[flow.source])
    return model.normalize, model.lookups


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
            if flow.twoway is not None:
                flow.twoway.close()
            close = getattr(flow.source, "close", None)  # a source with a connection pool
            if callable(close):
                close()


def erasure_parts(
    workspace: Workspace,
) -> tuple[
    dict[str, SourceModel], dict[str, Callable[[Sequence[tuple[str, str]]], int]], list[str]
]:
    """What GDPR erasure needs of a workspace: each source's model (whose data a record
    carries, and its redaction), each target's scrubber for the files billbridge owns,
    and what it cannot rewrite (said in the report, never silently skipped)."""
    models: dict[str, SourceModel] = {}
    scrubbers: dict[str, Callable[[Sequence[tuple[str, str]]], int]] = {}
    kept: list[str] = []
    targets = {f.target for f in workspace.flows}
    for name, conn in workspace.connections.items():
        spec = spec_for(conn)
        if spec.source_model is not None:
            models[name] = spec.source_model(conn)
        if spec.scrub is not None:
            scrubbers[name] = partial(spec.scrub, conn)
        elif name in targets and spec.role == "target":
            kept.append(
                f"{name} ({conn.connector}): entries already written there keep their "
                "narrations; erase the person there by hand"
            )
    return models, scrubbers, kept


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
