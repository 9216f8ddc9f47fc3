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
    acting,
    app,
    current_actor,
    emit,
    fail,
    mapping_notes,
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
    with opened(workspace, as_json) as (ws, store):
        who = acting(ws, store, "retry", as_json=as_json)
        with flow_runtimes(ws, store=store, actor=who.actor) as lookup:
            noting, notes = mapping_notes(lookup)
            results = retry(store, noting, None if all_ else ids, actor=who.actor)
    report_runs(results, as_json, notes)


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
        actor = current_actor()
        if not dry_run:
            actor = acting(ws, store, "replay", as_json=as_json).actor
        with flow_runtimes(ws, store=store, actor=actor) as lookup:
            noting, notes = mapping_notes(lookup)
            results = replay(store, noting, keys, actor=actor, dry_run=dry_run,
                             default_flow=default)  # fmt: skip
    report_runs(results, as_json, notes)
