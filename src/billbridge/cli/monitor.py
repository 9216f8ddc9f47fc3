"""CLI commands for reconcile, status, alerts and the daily report: thin shells over the engine.

Why a module of its own: these commands change for other reasons than the record path;
the package registers them with one call (`register(app)`).
Exit codes follow the CLI contract: 0 ok, 1 discrepancies that no one owns yet (or
records that failed), 2 bad usage or configuration.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from billbridge.config import CONFIG_NAME, Workspace
from billbridge.domain import plural
from billbridge.engine.alerts import AlertReport, check_alerts
from billbridge.engine.cleanup import Cleanup
from billbridge.engine.daily import DailyReport, daily_report
from billbridge.engine.deferred_status import DeferredStatus, flow_deferred_status
from billbridge.engine.reconcile import Reconciled, reconcile_flow, reconcile_json, unowned
from billbridge.engine.status import FlowStatus, Status, wait_percent, workspace_status
from billbridge.store import RunRow, Store
from billbridge.wiring import flows as flow_runtimes
from billbridge.wiring import record_namer

from ._common import (
    JsonOpt,
    WorkspaceOpt,
    acting,
    current_actor,
    emit,
    err,
    fail,
    opened,
    out,
    say,
)

__all__ = ["register"]

_FIX_WORDS = {"none": "reported only"}  # an informational finding (a number gap)


def _print_deferred(status: DeferredStatus) -> None:
    """Deferred revenue: each account's balance in the books beside its schedules."""
    through = status.through.isoformat() if status.through else "never"
    out.print(
        f"[bold]Deferred revenue[/] ({status.flow}, recognized through {through})",
        highlight=False,
    )
    for balance in status.balances:
        due = f", {balance.due:f} due to recognize" if balance.due else ""
        verdict = "ok" if not balance.difference else ("due" if balance.explained else "DIFFERS")
        out.print(
            f"  {balance.entity} {balance.account} {balance.currency}: books "
            f"{balance.books:f}, schedules {balance.schedules:f}{due} [{verdict}]",
            highlight=False,
            markup=False,
        )
    for record in status.failing:
        out.print(f"  cannot be scheduled: {record} (see `billbridge queue`)", highlight=False)


def _print_reconcile(results: list[Reconciled]) -> None:
    """A table a person can read at any width: what, both values, who owns it, the fix."""
    for result in results:
        if result.deferred is not None:
            _print_deferred(result.deferred)
        found = result.discrepancies
        if not found:
            out.print(f"[green]{result.flow}: no discrepancies[/]", highlight=False)
            continue
        queued = sum(1 for d in found if d.queued)
        out.print(
            f"[bold]{result.flow}: {plural(len(found), 'discrepancy', 'discrepancies')}[/] "
            f"({queued} already in the queue)",
            highlight=False,
        )
        table = Table(show_lines=True, expand=True)
        table.add_column("kind / record", ratio=3, overflow="fold")
        table.add_column("source / books", ratio=3, overflow="fold")
        table.add_column("owner / fix", ratio=2, overflow="fold")
        table.add_column("what, and how to fix it", ratio=5, overflow="fold")
        for d in found:
            fix = "in the queue" if d.queued else _FIX_WORDS.get(d.fix, d.fix)
            table.add_row(
                Text(f"{d.kind}\n{d.record_key}"),
                Text(f"{d.source_value}\n{d.target_value}"),
                Text(f"{d.owner}\n{fix}"),
                Text(f"{d.detail}\n→ {d.hint}"),
            )
        out.print(table)
        if result.fixes is not None:
            f = result.fixes
            out.print(
                f"fixed: {len(f.posted)} posted, {len(f.reversed)} reversed; "
                f"{len(f.queued)} queued as conflicts; {len(f.failed)} failed",
                highlight=False,
            )
            for why in f.failed:
                out.print(f"  [red]failed:[/] {why}", highlight=False)


def reconcile(
    flows: Annotated[list[str] | None, typer.Argument(help="Flows (default: all).")] = None,
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Post what is missing, reverse duplicates, queue the rest."),
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a one-page HTML report here.")
    ] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Compare the source now, what billbridge posted, and the books now, record by record."""
    if html is not None and not html.parent.is_dir():
        fail(f"--html: the folder {html.parent} does not exist", as_json=as_json)
    with opened(workspace, as_json) as (ws, store):
        names = flows or [f.name for f in ws.flows]
        actor = current_actor()
        if fix:  # a fix posts and queues: who does it must be known on production
            actor = acting(ws, store, "run", flows=names, as_json=as_json).actor
        results = []
        for name in names:
            with flow_runtimes(ws, store=store, actor=actor) as lookup:
                results.append(reconcile_flow(lookup(name), store, fix=fix, actor=actor))
        if html is not None:
            from billbridge.report_html import reconcile_page  # noqa: PLC0415 - only with --html

            try:
                html.write_text(reconcile_page(results), encoding="utf-8")
            except OSError as exc:
                fail(f"--html: cannot write {html}: {exc.strerror}", as_json=as_json)
        run_alerts(ws, store, quiet=as_json)
    if as_json:
        emit(reconcile_json(results))
    else:
        _print_reconcile(results)
    if any(unowned(r) for r in results):
        raise typer.Exit(1)


def _print_status(status: Status) -> None:
    """One readable block per flow (fits any terminal width)."""
    for name, f in sorted(status.flows.items()):
        # The words `sync` and the daily report use for the same figures: records posted
        # to the books, and rows open in the queue now.
        posted = plural(f.records.get("synced", 0), "record")
        entries = plural(f.postings, "journal entry", "journal entries")
        open_now = ", ".join(f"{f.records.get(k, 0)} {k}" for k in ("failed", "held", "conflict"))
        found = ", ".join(f"{k} {n}" for k, n in sorted(f.discrepancies.items())) or "none"
        out.print(f"[bold]{name}[/]", highlight=False)
        say(f"  posted         {posted} in {entries}")
        say(f"  open now       {open_now}")
        out.print(
            f"  queue          {plural(f.queue_open, 'row')} open, oldest "
            f"{_ago(f.queue_oldest, status.at)}, "
            f"{f.retries} retries, {f.retryable} retried automatically",
            highlight=False,
        )
        out.print(f"  discrepancies  {found}", highlight=False)
        out.print(f"  last success   {_ago(f.last_success, status.at)}", highlight=False)
        if f.last_run is not None:
            out.print(f"  last run       {_run_line(f.last_run, status.at)}", highlight=False)
        for run in f.runs_not_finished:
            if run is not f.last_run:
                out.print(f"  not finished   {_run_line(run, status.at)}", highlight=False)
        if f.figures is not None:
            out.print(f"  rate limit     {_rate_limit_line(f)}", highlight=False)
    for name, w in sorted(status.webhooks.items()):
        lag = "-" if w.lag_seconds is None else f"{w.lag_seconds:.1f} s"
        pending = f"{w.pending} pending"
        if w.oldest_pending is not None:
            pending += f" (oldest received {_ago(w.oldest_pending, status.at)})"
        out.print(
            f"[bold]webhooks {name}[/]: lag {lag}, last event {_ago(w.last_received, status.at)}, "
            f"{w.received} received, {pending}",
            highlight=False,
        )
    if status.cleanup is not None:
        _print_cleanup(status.cleanup)
    if status.incidents_open:
        alerts = ", ".join(f"{rule} ({n})" for rule, n in sorted(status.incidents_open.items()))
        out.print(f"[red]open alerts:[/] {alerts}", highlight=False)


def _run_line(run: RunRow, now: datetime) -> str:
    line = f"#{run.id} {run.kind} {run.status}, started {_ago(run.started_at, now)}"
    return f"{line}: {run.error}" if run.error else line


def _print_cleanup(estimate: Cleanup) -> None:
    """Today's clean-up estimate, what it is made of, and the last days' estimates."""
    records = sum(n for _, n, _ in estimate.causes)
    say(
        f"clean-up         about {estimate.minutes} min today ("
        f"{plural(len(estimate.causes), 'cause')}, {plural(records, 'record')} to act on)",
        "bold",
    )
    for cause, n, minutes in estimate.causes[:3]:
        say(f"                 {cause}: {plural(n, 'record')}, {minutes:.0f} min")
    say(f"  last {len(estimate.trend)} days  {estimate.trend_text()} (minutes)")


def _rate_limit_line(f: FlowStatus) -> str:
    assert f.figures is not None
    t = f.figures
    line = (
        f"{t.rate_limit_waits} waits ({t.rate_limit_wait_seconds:.1f} s), {t.throttled} "
        f"answered 429, {plural(t.requests, 'request')} in {plural(f.figure_runs, 'run')}"
    )
    cost = f.last_cost
    percent = None if cost is None else wait_percent(cost)
    if cost is not None and percent is not None:
        line += f"; last sync waited {percent:.1f}% of {cost.duration_seconds:.1f} s"
    return line


def _ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def status(workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Records by outcome per flow, queue, retries, discrepancies, rate-limit waits, webhooks."""
    with opened(workspace, as_json) as (ws, store):
        result = workspace_status(store, flows=[f.name for f in ws.flows], trend_days=30)
    if as_json:
        emit(result.as_json())
    else:
        _print_status(result)


def run_alerts(ws: Workspace, store: Store, *, quiet: bool) -> AlertReport | None:
    """Evaluate the workspace's alert rules (after a sync or reconcile, or on demand).

    A delivery failure is reported on stderr and never changes the command's exit code:
    the incident stays unannounced and the next check sends it.
    """
    if ws.alerts is None:
        return None
    report = check_alerts(
        store, ws.alerts, flows=[f.name for f in ws.flows], workspace=str(ws.root),
        namer=record_namer(ws, store),
    )  # fmt: skip
    for problem in report.failed:
        err.print(f"[yellow]alert not delivered:[/] {problem}", highlight=False)
    if not quiet:
        for name in report.fired:
            out.print(f"[red]alert:[/] {name}", highlight=False)
        for name in report.resolved:
            out.print(f"[green]resolved:[/] {name}", highlight=False)
    return report


alerts_app = typer.Typer(help="Alert rules from billbridge.yaml (`alerts:`).", no_args_is_help=True)


@alerts_app.command("check")
def alerts_check(workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Evaluate the rules now: send new incidents once, and resolutions."""
    with opened(workspace, as_json) as (ws, store):
        if ws.alerts is None:
            fail(f"{ws.root / CONFIG_NAME}: alerts: no `alerts:` section", as_json=as_json)
        report = run_alerts(ws, store, quiet=as_json)
    assert report is not None
    if as_json:
        emit(report.as_json())
    elif not (report.fired or report.resolved):
        say(f"{plural(len(report.open), 'open incident')}, nothing new to send")
    if report.failed:
        raise typer.Exit(1)


report_app = typer.Typer(help="Reports for people: `daily`.", no_args_is_help=True)


def _print_daily(report: DailyReport) -> None:
    say(f"Daily report {report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC", "bold")
    estimate = report.cleanup
    records = sum(n for _, n, _ in estimate.causes)
    say(
        f"Clean-up today: about {estimate.minutes} min ({plural(len(estimate.causes), 'cause')}, "
        f"{plural(records, 'record')} to act on); last {len(estimate.trend)} days: "
        f"{estimate.trend_text()} (minutes)",
        "bold",
    )
    say("What synced (the window's runs; then what is open now)", "bold")
    for name, f in sorted(report.flows.items()):
        ran = ", ".join(f"{k} {f.counts.get(k, 0)}" for k in ("failed", "held", "conflict"))
        now = ", ".join(f"{f.open.get(k, 0)} {k}" for k in ("failed", "held", "conflict"))
        say(
            f"  {name}: {plural(f.runs, 'run')}, {plural(f.records_posted, 'record')} posted in "
            f"{plural(f.postings, 'journal entry', 'journal entries')}; in those runs {ran}; "
            f"open now {now}"
        )
        for why in f.stopped:
            say(f"    {why}", "yellow")
    say(f"Open causes ({len(report.causes)})", "bold")
    for cause in report.causes:
        say(f"  {cause['cause']}: {plural(cause['count'], 'record')} — {cause['problem']}")
        say(f"    fix: {cause['fix']}")
    say(f"What failed and is still open, and why ({len(report.failures)})", "bold")
    for row in report.failures:
        say(f"  {row['words'] or row['record']} [{row['field']}]: {row['why']}")
        say(f"    record: {row['record']}")
        say(f"    fix: {row['fix']}")
    say(f"What waits, and on whom ({len(report.waiting)})", "bold")
    for row in report.waiting:
        say(
            f"  {row['words'] or row['record']} ({row['kind']}) waits on {row['waits_on']}: "
            f"{row['why']}"
        )
    kinds = sorted(set(report.discrepancies_found) | set(report.discrepancies_resolved))
    say("Discrepancies found and fixed", "bold")
    for kind in kinds:
        say(
            f"  {kind}: found {report.discrepancies_found.get(kind, 0)}, "
            f"resolved {report.discrepancies_resolved.get(kind, 0)}, "
            f"still open {report.discrepancies_open.get(kind, 0)}"
        )
    if not kinds:
        say("  none")
    for status in report.deferred:
        _print_deferred(status)
    head = report.audit_head
    say(
        "Audit chain "
        + (f"seq {head.seq}, head {head.hash}" if head else "empty")
        + " (keep this line: `billbridge audit --verify` finds a chain cut or rewritten "
        "since)"
    )


@report_app.command("daily")
def report_daily(
    hours: Annotated[float, typer.Option(help="The window: this many hours back.", min=0)] = 24,
    html: Annotated[Path | None, typer.Option("--html", help="Also write an HTML page.")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """What synced, what failed and why, what waits on whom, discrepancies found and fixed."""
    with opened(workspace, as_json) as (ws, store):
        with flow_runtimes(ws) as lookup:
            deferred = [
                status
                for f in ws.flows
                if (status := flow_deferred_status(lookup(f.name), store)) is not None
            ]
        report = daily_report(
            store,
            flows=[f.name for f in ws.flows],
            hours=hours,
            deferred=deferred,
            namer=record_namer(ws, store),
        )
    if html is not None:
        from billbridge.report_html import daily_page  # noqa: PLC0415 - only with --html

        try:
            html.write_text(daily_page(report), encoding="utf-8")
        except OSError as exc:
            fail(f"--html: cannot write {html}: {exc.strerror}", as_json=as_json)
    if as_json:
        emit(report.as_json())
    else:
        _print_daily(report)


def register(app: typer.Typer) -> None:
    app.command()(reconcile)
    app.command()(status)
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(report_app, name="report")
