"""`billbridge doctor [FLOW…]`: drift and gaps in mappings, each with its fix.

Reads the workspace and recent data only (engine/doctor.py); exit 1 when it found
something, so a cron job can mail the report.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from billbridge.engine.doctor import Finding, diagnose
from billbridge.engine.mapping_test import SnapshotPlanner
from billbridge.flow_mapping import flow_mapping, flow_ref
from billbridge.ledger_accounts import ledger_accounts
from billbridge.wiring import flow_normalizer

from ._common import JsonOpt, WorkspaceOpt, app, current_actor, emit, opened, out


@app.command("doctor")
def doctor_cmd(
    flows: Annotated[
        list[str] | None, typer.Argument(help="Flows to check (default: all).")
    ] = None,
    records: Annotated[
        int, typer.Option(min=1, help="How many recent records to read per flow.")
    ] = 1000,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Drift and gaps in mappings: unmapped rates and products, unused rules, drafts, …"""
    found: list[Finding] = []
    with opened(workspace, as_json) as (ws, store):
        for name in flows or [f.name for f in ws.flows]:
            ref = flow_ref(ws, name)
            state = flow_mapping(ws, name, store=store, actor=current_actor())
            normalize, _lookups = flow_normalizer(ws, name)
            planner = SnapshotPlanner(store, flow=name, connection=ref.source, normalize=normalize)
            found += diagnose(
                store, ref, mapping=state.mapping, promoted=state.promoted,
                file_version=state.file_version, planner=planner, last=records,
                ledger=ledger_accounts(ws, name), now=datetime.now(UTC),
            )  # fmt: skip
    if as_json:
        emit({"findings": [f.as_json() for f in found],
              "counts": dict(Counter(f.kind for f in found))})  # fmt: skip
    elif not found:
        out.print("[green]No drift or gaps found.[/]")
    else:
        for finding in found:
            out.print(f"\n [bold]{finding.kind}[/] {finding.flow}: {finding.subject}",
                      highlight=False, emoji=False)  # fmt: skip
            out.print(f"     {finding.detail}", highlight=False, markup=False, emoji=False)
            out.print(f"     fix: {finding.fix}", highlight=False, markup=False, emoji=False)
    if found:
        raise typer.Exit(1)
