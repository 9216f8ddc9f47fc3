"""`billbridge resolve ID --take CONNECTION | --value V`: settle a two-way conflict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billbridge.engine.resolve import ResolveError, resolve_conflict
from billbridge.wiring import flows as flow_runtimes

from ._common import JsonOpt, WorkspaceOpt, acting, app, emit, fail, opened, out


@app.command("resolve")
def resolve_cmd(
    row: Annotated[int, typer.Argument(help="The conflict's queue row id (billbridge queue).")],
    take: Annotated[
        str | None, typer.Option("--take", help="Keep this connection's value (e.g. crm).")
    ] = None,
    value: Annotated[
        str | None,
        typer.Option("--value", help="Write this value to both sides (JSON for an address)."),
    ] = None,
    field: Annotated[
        list[str] | None, typer.Option("--field", help="Only this field (repeatable).")
    ] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Settle a field changed on both sides of a two-way sync (audited)."""
    with opened(workspace, as_json) as (ws, store), flow_runtimes(ws) as lookup:
        who = acting(ws, store, "resolve", as_json=as_json)
        try:
            done = resolve_conflict(
                store, lookup, row, take=take, value=value, fields=field or (),
                actor=who.actor,
            )  # fmt: skip
        except ResolveError as exc:
            fail(str(exc), as_json=as_json)
    if as_json:
        emit(done.as_json())
        return
    wrote = "; ".join(f"{side}: {', '.join(names)}" for side, names in done.written.items())
    out.print(
        f"Resolved row {done.row} ({done.record}): {', '.join(done.fields)} by "
        f"{done.took}; written: {wrote or 'nothing (both sides already agreed)'}",
        highlight=False,
    )
