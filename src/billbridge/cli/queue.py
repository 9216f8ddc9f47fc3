"""`billbridge queue`, `retry` and `replay`: the exception queue and its fixes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billbridge.engine.queue import queue_items, replay, retry
from billbridge.wiring import flows as flow_runtimes

from ._common import (
    JsonOpt,
    WorkspaceOpt,
    app,
    current_actor,
    emit,
    fail,
    opened,
    print_queue,
    report_runs,
)


@app.command()
def queue(
    flow: Annotated[str | None, typer.Option(help="Only this flow.")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """The exception queue: what failed, waits or conflicts, why, and how to fix it."""
    with opened(workspace, as_json) as (_ws, store):
        items = queue_items(store, flow=flow)
    if as_json:
        emit([i.as_json() for i in items])
    else:
        print_queue(items)


@app.command("retry")
def retry_cmd(
    ids: Annotated[list[int] | None, typer.Argument(help="Queue row ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every failed row.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Retry failed records (after a passing failure, or a fix in the source)."""
    if not ids and not all_:
        fail("give queue row ids or --all", as_json=as_json)
    with opened(workspace, as_json) as (ws, store), flow_runtimes(ws) as lookup:
        results = retry(store, lookup, None if all_ else ids, actor=current_actor())
    report_runs(results, as_json)


@app.command("replay")
def replay_cmd(
    keys: Annotated[list[str], typer.Argument(help="Record keys, e.g. stripe:invoice:in_123.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be posted.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Replay records through the current mapping, after a fix."""
    with opened(workspace, as_json) as (ws, store):
        default = ws.flows[0].name if len(ws.flows) == 1 else None
        with flow_runtimes(ws) as lookup:
            results = replay(
                store, lookup, keys, actor=current_actor(), dry_run=dry_run, default_flow=default
            )
    report_runs(results, as_json)
