"""`billbridge books check`: control totals per ledger target, read from the target itself.

A thin shell over `engine.books.check_books`: it picks the flows, reads each target
back through its connector, and prints the trial balance, the per-object totals and
every difference. Exit 1 when anything differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from billbridge.domain import plural
from billbridge.engine.books import BooksReport, check_books

from ._common import group_workspace

if TYPE_CHECKING:
    from billbridge.mapping.model import Mapping

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
    for (obj, currency), count in sorted(report.converted.items()):
        out.print(
            f"  {count} {obj} record(s) in {currency}: the target keeps only their converted "
            "amounts, so their source figure is not compared",
            highlight=False,
        )
    for diff in report.differences:
        out.print(f"  [red]{diff.kind}[/] {diff.record or '-'}: {diff.detail}", highlight=False)


def _primary(mapping: Mapping) -> dict[str, frozenset[str]]:
    """Per object, the accounts whose legs carry the source's control amount."""
    from billbridge.formats.stripe import CONTROL_ACCOUNTS  # noqa: PLC0415
    from billbridge.mapping.entities import role_accounts  # noqa: PLC0415

    return {obj: role_accounts(mapping, roles) for obj, roles in CONTROL_ACCOUNTS.items()}


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
    from billbridge.mapping.model import load_mapping  # noqa: PLC0415
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
                primary=_primary(load_mapping(ws.flow(name).mapping)),
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


@books_app.command("adopt")
def adopt(
    flow: Annotated[str, typer.Argument(help="The flow whose target to adopt.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    workspace: Annotated[
        Path,
        typer.Option("--workspace", "-w", envvar="BILLBRIDGE_WORKSPACE", help="Workspace folder."),
    ] = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Accept a flow's target as it is now, when it and the state store disagree.

    For a ledger restored from an older backup, or edited before the place billbridge
    last committed: billbridge reads the whole target, records the entries it holds that
    the store lacks (so none is posted twice), and continues from its end. Nothing is
    posted or removed; `billbridge reconcile` then shows what differs. Audited.
    """
    from billbridge.engine.recovery import adopt_target  # noqa: PLC0415
    from billbridge.wiring import flows as flow_runtimes  # noqa: PLC0415

    from ._common import current_actor, emit, fail, opened, out  # noqa: PLC0415

    if not reason.strip():
        fail("--reason must say why the target is adopted (it is kept in the audit log)",
             as_json=as_json)  # fmt: skip
    with opened(workspace, as_json) as (ws, store), flow_runtimes(ws) as lookup:
        done = adopt_target(lookup(flow), store, actor=current_actor(), reason=reason)
    if as_json:
        emit(done.as_json())
        return
    out.print(
        f"Adopted {done.target} for flow {done.flow}: {done.held} billbridge "
        f"entries in it, {done.recorded} recorded that the state store lacked; billbridge "
        f"continues from position {done.position_after} (was {done.position_before}). "
        f"Run `billbridge reconcile {done.flow}` to see what differs.",
        highlight=False,
    )
