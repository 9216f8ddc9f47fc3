"""Which mapping a workspace's flow runs: change control wired to billbridge.yaml.

Why a module beside `wiring`: every path that runs a flow builds it with
`wiring.build_flow`, which asks `flow_mapping` here; the mapping commands, the API and
`doctor` use `flow_ref` to describe a flow to the engine (which never reads config), and
`run_mapping_test` to test a draft the same way from the CLI, the API and the web UI.
"""

from __future__ import annotations

from datetime import datetime

from .config import Workspace
from .engine.mapping_change import (
    ChangeRefusedError,
    FlowMapping,
    FlowRef,
    load_version,
    resolve_version,
    runtime_mapping,
    store_draft,
)
from .engine.mapping_test import ReplanReport, replan
from .identity import Identity
from .mapping.model import load_mapping
from .store import AuditEvent, Store, open_store

__all__ = ["flow_mapping", "flow_ref", "run_mapping_test"]


def flow_ref(workspace: Workspace, name: str) -> FlowRef:
    flow = workspace.flow(name)
    return FlowRef(
        name=flow.name,
        source=flow.source,
        target=flow.target,
        mapping_path=flow.mapping,
        production=workspace.is_production(flow.name),
        four_eyes=workspace.change_control.four_eyes,
    )


def flow_mapping(
    workspace: Workspace, name: str, *, store: Store | None = None, actor: str = "system"
) -> FlowMapping:
    """The mapping `name` runs now (its promoted version, or a sandbox's draft)."""
    ref = flow_ref(workspace, name)
    file = load_mapping(ref.mapping_path)
    if store is not None:
        return runtime_mapping(store, ref, file, actor=actor)
    own = open_store(workspace.state_url())
    try:
        return runtime_mapping(own, ref, file, actor=actor)
    finally:
        own.close()


def run_mapping_test(
    workspace: Workspace,
    store: Store,
    name: str,
    *,
    who: Identity,
    draft: str | None,
    comment: str = "",
    limit: int | None = 1000,
    since: datetime | None = None,
) -> tuple[int, ReplanReport]:
    """Test a draft (a stored version, or the mapping file kept as a draft by `who`).

    Re-plans the flow's recorded records under it and under the promoted version, keeps
    the summary (what `promote` requires and shows) and returns (test id, report).
    """
    ref = flow_ref(workspace, name)
    state = flow_mapping(workspace, name, store=store, actor=who.actor)
    if draft is not None:
        candidate = load_version(store, ref, resolve_version(store, ref, draft))
    else:
        candidate = load_mapping(ref.mapping_path)
        if candidate.version == state.promoted:
            raise ChangeRefusedError(
                f"{ref.mapping_path.name} is the promoted version {state.promoted}: nothing to "
                "test; edit the file (a draft) or name a stored draft with --draft",
                kind="conflict",
            )
        store_draft(store, ref, candidate, author=who.name, parent=state.promoted,
                    comment=comment or f"from {ref.mapping_path.name}")  # fmt: skip
    from .wiring import flow_normalizer  # noqa: PLC0415 - wiring builds flows with this module

    normalize, _lookups = flow_normalizer(workspace, name)
    report = replan(
        store, flow=name, connection=ref.source, normalize=normalize,
        base=load_version(store, ref, state.promoted), draft=candidate, limit=limit, since=since,
    )  # fmt: skip
    summary = report.as_json()
    row = store.add_mapping_test(
        flow=name, draft=candidate.version, base=state.promoted, actor=who.actor,
        records=report.records, summary=summary,
        audit=AuditEvent(
            actor=who.actor, action="mapping-tested", mapping_version=candidate.version,
            diff={"flow": [None, name], "draft": [None, candidate.version],
                  "base": [None, state.promoted], "records": [None, report.records],
                  "changed": [None, summary["changed"]],
                  "newly_failing": [None, summary["newly_failing"]],
                  "newly_posting": [None, summary["newly_posting"]]},
        ),
    )  # fmt: skip
    return row.id, report
