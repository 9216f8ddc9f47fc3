"""`billbridge queue` (causes first), `queue causes|dismiss`, `retry` and `replay`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from billbridge.config import Workspace
from billbridge.engine.causes import group_causes
from billbridge.engine.queue import (
    find_cause,
    queue_items,
    record_states,
    replay,
    replay_cause,
    retry,
)
from billbridge.store import Store, StoreError
from billbridge.wiring import flows as flow_runtimes
from billbridge.wiring import record_namer

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
    say,
)
from ._show import name_problems, print_causes, print_queue, report_runs

queue_app = typer.Typer(
    help="The exception queue, by cause: `queue`, `queue --rows`, `queue causes`, "
    "`queue dismiss ID --reason R`.",
    invoke_without_command=True,
)
app.add_typer(queue_app, name="queue")

FlowOpt = Annotated[str | None, typer.Option(help="Only this flow.")]


@queue_app.callback()
def queue(
    ctx: typer.Context,
    flow: FlowOpt = None,
    rows: Annotated[bool, typer.Option("--rows", help="Every open row, not the causes.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """The exception queue: what failed, waits or conflicts, why, and how to fix it.

    Text shows the causes first (one fix each); `--rows` every row. `--json` is the list
    of rows, each with its `cause`.
    """
    if ctx.invoked_subcommand is not None:  # `queue -w DIR --json causes`: pass them on
        if workspace != Path():
            os.environ["BILLBRIDGE_WORKSPACE"] = str(workspace)
        if as_json:
            ctx.default_map = {**(ctx.default_map or {}), ctx.invoked_subcommand: {"as_json": True}}
        return
    with opened(workspace, as_json) as (ws, store):
        namer = record_namer(ws, store)
        items = queue_items(store, flow=flow, namer=namer)
        causes = [] if as_json or rows else group_causes(store.open_exceptions(flow=flow), {
            i.record: i.words for i in items if i.words is not None
        })  # fmt: skip
    if as_json:
        emit([i.as_json() for i in items])
    elif rows:
        print_queue(items)
    else:
        print_causes(causes, open_rows=len(items))


@queue_app.command("causes")
def queue_causes(
    flow: FlowOpt = None, workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False
) -> None:
    """The open rows grouped by cause: problem, records, amounts held back, age, the fix."""
    with opened(workspace, as_json) as (ws, store):
        namer = record_namer(ws, store)
        rows = store.open_exceptions(flow=flow)
        causes = group_causes(rows, namer.words(r.record_key for r in rows))
    if as_json:
        emit([c.as_json() for c in causes])
    else:
        print_causes(causes, open_rows=len(rows))


@queue_app.command("dismiss")
def queue_dismiss(
    ids: Annotated[list[int], typer.Argument(help="Queue row ids (see `queue --rows`).")],
    reason: Annotated[str, typer.Option(help="Why: it goes to the audit log.")] = "",
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Close rows by hand, with the reason (audited): for what no replay can fix."""
    if not reason.strip():
        fail("say why with --reason (it goes to the audit log)", as_json=as_json)
    with opened(workspace, as_json) as (ws, store):
        who = acting(ws, store, "dismiss", as_json=as_json)
        done = []
        for ident in ids:
            row = store.get_exception(ident)
            if row is None:
                fail(f"no queue row {ident} (see `billbridge queue --rows`)", as_json=as_json)
            if row.status != "open":
                fail(f"queue row {ident} is {row.status}, not open", as_json=as_json)
            try:
                store.dismiss_exception(ident, actor=who.actor, reason=reason.strip())
            except StoreError as exc:
                fail(str(exc), as_json=as_json)
            done.append({"id": ident, "record": row.record_key})
    if as_json:
        emit({"dismissed": done})
    else:
        for item in done:
            say(f"dismissed #{item['id']} {item['record']}: {reason.strip()}")


@app.command("retry")
def retry_cmd(
    ids: Annotated[list[int] | None, typer.Argument(help="Queue row ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every failed row.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Retry failed records (after a passing failure, or a fix in the source).

    A line of an export that could not be read is read again from the file.
    """
    if not ids and not all_:
        fail("give queue row ids or --all", as_json=as_json)
    with opened(workspace, as_json) as (ws, store):
        who = acting(ws, store, "retry", as_json=as_json)
        chosen = None if all_ else ids
        before = [
            (r.flow, r.record_key)
            for r in store.open_exceptions()
            if chosen is None or r.id in chosen
        ]
        with flow_runtimes(ws, store=store, actor=who.actor) as lookup:
            noting, notes = mapping_notes(lookup)
            results = retry(store, noting, chosen, actor=who.actor)
        states = _named_states(ws, store, before)
    report_runs(results, as_json, states, notes)


def _named_states(
    ws: Workspace, store: Store, pairs: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Where each record stands after the run, named in words."""
    namer = record_namer(ws, store)
    states = record_states(store, pairs)
    for state in states:
        state["words"] = namer.text(state["record"])
    return states


@app.command("replay")
def replay_cmd(
    keys: Annotated[
        list[str] | None, typer.Argument(help="Record keys, e.g. stripe:invoice:in_123.")
    ] = None,
    cause: Annotated[
        str | None,
        typer.Option(help="Every record of this cause (see `billbridge queue causes`)."),
    ] = None,
    flow: FlowOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would post and what would still fail.")
    ] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Replay records through the current mapping, after a fix: by key, or a whole cause."""
    if bool(keys) == bool(cause):
        fail("give record keys or --cause CAUSE (one of the two)", as_json=as_json)
    with opened(workspace, as_json) as (ws, store):
        namer = record_namer(ws, store)
        default = ws.flows[0].name if len(ws.flows) == 1 else None
        actor = current_actor()
        if not dry_run:
            actor = acting(ws, store, "replay", as_json=as_json).actor
        with flow_runtimes(ws, store=store, actor=actor) as lookup:
            noting, notes = mapping_notes(lookup)
            if cause:
                found = find_cause(store, cause, flow=flow, namer=namer)
                if not as_json:
                    say(f"Cause {found.cause}: {found.summary()}", "bold")
                    say(f"  why: {found.problem}")
                pairs = [(r.flow, r.record_key) for r in found.rows]
                results = replay_cause(store, noting, found, actor=actor, dry_run=dry_run)
            else:
                assert keys is not None
                results = replay(
                    store, noting, keys, actor=actor, dry_run=dry_run, default_flow=default
                )
                pairs = [("", k) for k in keys]
        name_problems(results, namer)
        states = [] if dry_run else _named_states(ws, store, pairs)
    report_runs(results, as_json, states, notes)
