"""`billbridge books check`: control totals per ledger target, read from the target itself.

A thin shell over `engine.books.check_books`: it picks the flows, reads each target
back through its connector, and prints the trial balance, the per-object totals and
every difference. Exit 1 when anything differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from billbridge.domain import plural
from billbridge.engine.books import BooksReport, check_books

from ._common import group_workspace

__all__ = ["books_app"]

books_app = typer.Typer(help="Control totals of the ledgers billbridge posts to.")


books_app.callback()(group_workspace)


def _print(report: BooksReport) -> None:
    from ._common import out  # noqa: PLC0415 - the CLI's console, shared

    verdict = "[green]OK[/]" if report.ok else "[bold red]DIFFERENCES[/]"
    out.print(
        f"\n[bold]Flow {report.flow} → {report.target}[/]: "
        f"{plural(report.entries, 'entry', 'entries')}, "
        f"{report.keys} billbridge keys, {verdict}"
    )
    trial = Table(title="Trial balance", show_header=True)
    for name in ("account", "currency", "debit", "credit"):
        trial.add_column(name, justify="right" if name in {"debit", "credit"} else "left")
    for (account, currency), balance in sorted(report.balances.items()):
        if balance:
            debit, credit = (f"{balance:f}", "") if balance > 0 else ("", f"{-balance:f}")
            trial.add_row(account, currency, debit, credit)
    for currency, total in sorted(report.trial_balance.items()):
        trial.add_row("[bold]total (debits - credits)[/]", currency, f"{total:f}", "")
    out.print(trial)
    totals = Table(title="Source vs posted, per object and currency", show_header=True)
    for name in ("object", "currency", "source", "posted", "difference"):
        totals.add_column(name, justify="left" if name in {"object", "currency"} else "right")
    for (obj, currency), (source, posted) in sorted(report.totals.items()):
        totals.add_row(obj, currency, f"{source:f}", f"{posted:f}", f"{posted - source:f}")
    out.print(totals)
    for diff in report.differences:
        out.print(f"  [red]{diff.kind}[/] {diff.record or '-'}: {diff.detail}", highlight=False)


@books_app.command("check")
def check(
    flows: Annotated[
        list[str] | None, typer.Argument(help="Flows to check (default: all).")
    ] = None,
    workspace: Annotated[
        Path,
        typer.Option("--workspace", "-w", envvar="BILLBRIDGE_WORKSPACE", help="Workspace folder."),
    ] = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Trial balance, source vs posted totals, and one posting per source record."""
    from billbridge.formats.stripe import control_amount  # noqa: PLC0415
    from billbridge.wiring import ledger_lines  # noqa: PLC0415

    from ._common import emit, opened  # noqa: PLC0415

    with opened(workspace, as_json) as (ws, store):
        names = flows or [f.name for f in ws.flows]
        reports = [
            check_books(
                flow=name,
                target=ws.flow(name).target,
                lines=ledger_lines(ws, name),
                store=store,
                control=control_amount,
            )
            for name in names
        ]
    if as_json:
        emit({"ok": all(r.ok for r in reports), "targets": [r.as_json() for r in reports]})
    else:
        for report in reports:
            _print(report)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)
