"""`billbridge recognize --through DATE`: post deferred revenue earned by a date, once.

A thin shell over `engine.recognize.recognize_flow`. Exit codes follow the CLI
contract: 0 ok; 1 some invoice's recognition failed (the queue says which and why);
2 bad usage (a date that is not a date, or one in the future: revenue is recognized
for service already delivered).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from billbridge.engine.recognize import RecognizeResult, recognize_flow
from billbridge.wiring import flows as flow_runtimes

from ._common import JsonOpt, WorkspaceOpt, app, current_actor, emit, fail, opened, out
from ._show import print_run
from .monitor import run_alerts

__all__ = ["recognize"]


def _print(result: RecognizeResult, *, dry_run: bool) -> None:
    for text in result.result.dry_run_entries:
        out.print(text, highlight=False, markup=False)
    out.print(
        f"[bold]Recognized through {result.through.isoformat()}[/] — flow {result.result.flow}"
        + (" (dry run: nothing written)" if dry_run else ""),
        highlight=False,
    )
    print_run(result.result)
    if result.recognized:
        table = Table(title="Revenue recognized in this run", show_header=True)
        for name in ("entity", "account", "currency", "amount"):
            table.add_column(name, justify="right" if name == "amount" else "left")
        for (entity, account, currency), amount in sorted(result.recognized.items()):
            table.add_row(entity, account, currency, f"{amount:f}")
        out.print(table)


@app.command()
def recognize(
    through: Annotated[
        str,
        typer.Option(
            "--through",
            help="Recognize every month of service that ends on or before this day (YYYY-MM-DD).",
        ),
    ],
    flows: Annotated[list[str] | None, typer.Argument(help="Flows (default: all).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be posted.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Post deferred revenue earned by a date: one entry per line and month, exactly once."""
    try:
        day = date.fromisoformat(through)
    except ValueError:
        fail(f"--through: {through!r} is not a date (expected YYYY-MM-DD)", as_json=as_json)
    with opened(workspace, as_json) as (ws, store):
        names = flows or [f.name for f in ws.flows]
        results: list[RecognizeResult] = []
        with flow_runtimes(ws) as lookup:
            runtimes = [lookup(name) for name in names]
            for runtime in runtimes:
                today = datetime.now(runtime.mapping.zone).date()
                if day > today:
                    fail(
                        f"--through {day.isoformat()} is after today ({today.isoformat()} in "
                        f"{runtime.mapping.timezone}, flow {runtime.name}): revenue is "
                        "recognized for service already delivered",
                        as_json=as_json,
                    )
            results.extend(
                recognize_flow(runtime, store, through=day, actor=current_actor(), dry_run=dry_run)
                for runtime in runtimes
            )
        if not dry_run:
            run_alerts(ws, store, quiet=as_json)
    if as_json:
        runs = [r.as_json() for r in results]
        if len(runs) == 1:
            emit(runs[0])
        else:
            counts = {k: sum(r.result.counts[k] for r in results) for k in results[0].result.counts}
            emit({"runs": runs, "counts": counts})
    else:
        for result in results:
            _print(result, dry_run=dry_run)
    if any(r.failed for r in results):
        raise typer.Exit(1)
