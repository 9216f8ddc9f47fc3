"""`billbridge init` and `billbridge demo`: new workspaces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billbridge.config import BeancountConnection
from billbridge.domain import plural
from billbridge.engine.causes import group_causes
from billbridge.engine.queue import queue_items
from billbridge.engine.run import sync_flow
from billbridge.wiring import flows as flow_runtimes
from billbridge.wiring import record_namer

from ._common import JsonOpt, app, emit, fail, opened, out
from ._show import print_causes, print_run


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace: billbridge.yaml, mapping.yaml and .billbridge/state.db."""
    from billbridge.workspace_files import create_workspace  # noqa: PLC0415

    try:
        created = create_workspace(directory)
    except FileExistsError as exc:
        fail(
            f"{exc.filename}: already exists; billbridge init never overwrites a workspace",
            as_json=as_json,
        )
    with opened(directory, as_json) as (_ws, _store):
        pass
    if as_json:
        emit({"workspace": str(directory.resolve()), "created": [str(p) for p in created]})
        return
    out.print(f"New workspace in [bold]{directory.resolve()}[/]:")
    for path in created:
        out.print(f"  {path}")
    out.print("Next: put a Stripe export in exports/stripe.jsonl, then `billbridge sync`.")


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo workspace.")] = Path(
        "billbridge-demo"
    ),
    invoices: Annotated[int, typer.Option(help="How many sample invoices.")] = 120,
    as_json: JsonOpt = False,
) -> None:
    """Build a demo workspace with sample Stripe data, sync it to Beancount, show the result."""
    from billbridge.workspace_files import (  # noqa: PLC0415
        DemoEditedError,
        create_demo,
        note_demo_files,
    )

    try:
        broken = create_demo(directory, invoices=invoices)
    except DemoEditedError as exc:
        fail(
            f"{directory.resolve()} holds an earlier demo with edits ({', '.join(exc.edited)} "
            "changed since the demo wrote it); billbridge demo never wipes edits: choose "
            "another folder, or delete this one yourself",
            as_json=as_json,
        )
    except FileExistsError as exc:
        fail(f"{exc.filename}: already exists; choose another folder for the demo", as_json=as_json)
    with opened(directory, as_json) as (ws, store):
        with flow_runtimes(ws, store=store, actor="demo") as lookup:
            results = [sync_flow(lookup(f.name), store, actor="demo") for f in ws.flows]
        ledgers = [c.path for c in ws.connections.values() if isinstance(c, BeancountConnection)]
        note_demo_files(directory, [str(p.relative_to(directory.resolve())) for p in ledgers])
        namer = record_namer(ws, store)
        items = queue_items(store, namer=namer)
        causes = group_causes(store.open_exceptions(), namer.words(i.record for i in items))
        verdict = store.verify_audit()
    if as_json:
        emit(
            {
                "workspace": str(directory.resolve()),
                "runs": [r.as_json() for r in results],
                "queue": [i.as_json() for i in items],
                "audit_ok": verdict.ok,
            }
        )
        return
    for result in results:
        print_run(result)
    print_causes(causes, open_rows=len(items))
    broken_item = next((i for i in items if i.record == broken), None)
    out.print()
    out.print(
        f"Ledger: {directory / 'books' / 'main.beancount'} "
        f"(audit chain {'verified' if verdict.ok else 'BROKEN'}, {plural(verdict.rows, 'row')})"
    )
    if broken_item is not None:
        out.print("\n[bold]Try the fix yourself:[/]")
        out.print(
            f"  1. in {directory / 'mapping.yaml'}, under `tax_rates:`, add an account "
            "for txr_at_vat20, e.g. `txr_at_vat20: Liabilities:Tax:At-Vat20`",
            highlight=False,
        )
        out.print(f"  2. billbridge -w {directory} replay {broken}", highlight=False)
        out.print(f"  3. billbridge -w {directory} queue      # the row is gone", highlight=False)
        out.print(f"  4. billbridge -w {directory} trace DEMO-9999", highlight=False)
