"""The `billbridge` command: thin typer commands over the engine.

Exit codes are a contract scripts rely on: 0 ok; 1 the run finished but some records
failed (the queue says which); 2 bad usage or bad configuration, with a message naming
the file, the line and the field. Every command takes `--json`.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import ConfigError, Workspace, load_workspace
from .connectors.base import ConnectorError, RetryableError
from .engine.model import RunResult
from .engine.queue import UnknownRecordError, queue_items, replay, retry
from .engine.run import sync_flow
from .engine.trace import resolve_ref, trace
from .store import Store, StoreError
from .wiring import flows as flow_runtimes
from .wiring import open_workspace_store

__all__ = ["app", "main"]

app = typer.Typer(
    name="billbridge",
    help="Post every invoice, payment, fee, refund and credit note to the books exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="BILLBRIDGE_WORKSPACE",
        help="Workspace folder (holds billbridge.yaml).",
    ),
]


def _emit(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _fail(message: str, *, as_json: bool, code: int = 2) -> NoReturn:
    if as_json:
        _emit({"error": message})
    else:
        err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _actor() -> str:
    name = os.environ.get("BILLBRIDGE_ACTOR")
    if name:
        return name
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _opened(workspace: Path, as_json: bool) -> Iterator[tuple[Workspace, Store]]:
    try:
        ws = load_workspace(workspace)
        store = open_workspace_store(ws)
    except ConfigError as exc:
        _fail(str(exc), as_json=as_json)
    except StoreError as exc:
        _fail(f"state store: {exc}", as_json=as_json)
    try:
        yield ws, store
    except (ConfigError, UnknownRecordError) as exc:
        _fail(str(exc), as_json=as_json)
    except ConnectorError as exc:
        _fail(str(exc), as_json=as_json, code=1 if isinstance(exc, RetryableError) else 2)
    finally:
        store.close()


def _version(value: bool) -> None:
    if value:
        out.print(f"billbridge {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder, for every command below."),
    ] = None,
) -> None:
    """billbridge: a self-hosted integration hub for billing and invoicing."""
    if workspace is not None:
        # Subcommands read their -w default from this variable (parsed after this callback).
        os.environ["BILLBRIDGE_WORKSPACE"] = str(workspace)


def group_workspace(
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder (also accepted here)."),
    ] = None,
) -> None:
    """The callback of a command group (`books`, `stripe`): `-w DIR` after its name too."""
    if workspace is not None:
        os.environ["BILLBRIDGE_WORKSPACE"] = str(workspace)


# ---------------------------------------------------------------- init and demo
@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace: billbridge.yaml, mapping.yaml and .billbridge/state.db."""
    from .workspace_files import create_workspace  # noqa: PLC0415

    try:
        created = create_workspace(directory)
    except FileExistsError as exc:
        _fail(
            f"{exc.filename}: already exists; billbridge init never overwrites a workspace",
            as_json=as_json,
        )
    with _opened(directory, as_json) as (_ws, _store):
        pass
    if as_json:
        _emit({"workspace": str(directory.resolve()), "created": [str(p) for p in created]})
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
    from .workspace_files import create_demo  # noqa: PLC0415

    try:
        broken = create_demo(directory, invoices=invoices)
    except FileExistsError as exc:
        _fail(
            f"{exc.filename}: already exists; choose another folder for the demo", as_json=as_json
        )
    with _opened(directory, as_json) as (ws, store):
        with flow_runtimes(ws) as lookup:
            results = [sync_flow(lookup(f.name), store, actor="demo") for f in ws.flows]
        items = queue_items(store)
        verdict = store.verify_audit()
    if as_json:
        _emit(
            {
                "workspace": str(directory.resolve()),
                "runs": [r.as_json() for r in results],
                "queue": [i.as_json() for i in items],
                "audit_ok": verdict.ok,
            }
        )
        return
    for result in results:
        _print_run(result)
    _print_queue(items)
    broken_item = next((i for i in items if i.record == broken), None)
    out.print()
    out.print(
        f"Ledger: {directory / 'books' / 'main.beancount'} "
        f"(audit chain {'verified' if verdict.ok else 'BROKEN'}, {verdict.rows} rows)"
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


# ---------------------------------------------------------------- sync
def _print_run(result: RunResult) -> None:
    table = Table(title=f"Run {result.run} — flow {result.flow}", show_header=True)
    for name in result.counts:
        table.add_column(name, justify="right")
    table.add_row(*(str(v) for v in result.counts.values()))
    out.print(table)
    out.print(
        f"{result.posted} journal entries written"
        + (f", {result.recovered} recovered from an interrupted run" if result.recovered else "")
    )
    if result.stopped:
        err.print(f"[bold red]run stopped:[/] {result.stopped}")


@app.command()
def sync(
    flows: Annotated[list[str] | None, typer.Argument(help="Flows to run (default: all).")] = None,
    backfill: Annotated[bool, typer.Option(help="Read the whole source, resumably.")] = False,
    since: Annotated[
        str | None, typer.Option(help="With --backfill: from this date (YYYY-MM-DD).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be posted.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Run flows: read, normalize, map, check, post and commit each record."""
    since_day: date | None = None
    if since is not None:
        try:
            since_day = date.fromisoformat(since)
        except ValueError:
            _fail(f"--since: {since!r} is not a date (expected YYYY-MM-DD)", as_json=as_json)
    with _opened(workspace, as_json) as (ws, store):
        names = flows or [f.name for f in ws.flows]
        results = []
        sources: dict[str, dict[str, Any]] = {}
        for name in names:
            with flow_runtimes(ws) as lookup:
                runtime = lookup(name)
                size = getattr(runtime.source, "size", None)
                total = size() if callable(size) else None
                note = getattr(runtime.source, "progress_note", None)
                with _progress(not as_json, name, total, note) as progress:
                    results.append(
                        sync_flow(
                            runtime,
                            store,
                            actor=_actor(),
                            backfill=backfill,
                            since=since_day,
                            dry_run=dry_run,
                            progress=progress,
                        )
                    )
                source_summary = getattr(runtime.source, "summary", None)
                if callable(source_summary):  # a live source: objects read, waits, 429s
                    sources[name] = source_summary()
        if not dry_run:
            _run_alerts(ws, store, quiet=as_json)
    if as_json:
        runs = [
            {**r.as_json(), **({"source": sources[r.flow]} if r.flow in sources else {})}
            for r in results
        ]
        if len(results) == 1:
            _emit(runs[0])
        else:
            totals = {k: sum(r.counts[k] for r in results) for k in results[0].counts}
            _emit({"runs": runs, "counts": totals})
    else:
        for result in results:
            if dry_run:
                for text in result.dry_run_entries:
                    out.print(text, highlight=False, markup=False)
            _print_run(result)
            if result.flow in sources:
                out.print(_source_line(sources[result.flow]), highlight=False, markup=False)
            elif result.figures is not None:  # a metered source with no summary of its own
                f = result.figures
                out.print(
                    f"  source: {f.requests} requests, {f.rate_limit_waits} rate-limit waits "
                    f"({f.rate_limit_wait_seconds:.3f} s), {f.throttled} answered 429",
                    highlight=False,
                )
    if any(r.failed for r in results):
        raise typer.Exit(1)


def _source_line(summary: dict[str, Any]) -> str:
    """A live source's cost in one line: objects read, requests, pacing and 429 waits."""
    objects = summary.get("objects", {})
    kinds = ", ".join(f"{k} {v}" for k, v in objects.items())
    line = (
        f"  source: {sum(objects.values())} objects ({kinds or 'none'}), "
        f"{summary.get('requests', 0)} requests, {summary.get('paced_waits', 0)} paced waits "
        f"({summary.get('paced_seconds', 0)} s), {summary.get('throttled', 0)} answered 429 "
        f"({summary.get('backoff_seconds', 0)} s backoff)"
    )
    if summary.get("error_waits"):
        line += f", {summary['error_waits']} retries after errors ({summary['error_seconds']} s)"
    return line


@contextmanager
def _progress(
    enabled: bool, label: str, total_bytes: int | None, note: Any = None
) -> Iterator[Any]:
    """A progress bar on a terminal: records, records/s, and for a file, % and time left."""
    if not enabled or not err.is_terminal:
        yield None
        return
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[records]} records, {task.fields[rate]}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=total_bytes, records=0, rate="-")

        def update(done: int, position: str) -> None:
            elapsed = bar.tasks[task].elapsed or 0
            rate = f"{done / elapsed:,.0f}" if elapsed else "-"
            completed = int(position) if total_bytes and position.isdigit() else None
            bar.update(task, completed=completed, records=f"{done:,}", rate=rate)
            if callable(note):  # a live source: the object type being read, waits, 429s
                bar.update(task, description=f"{label} {note()}")

        yield update


# ---------------------------------------------------------------- queue, retry, replay
def _print_queue(items: list[Any]) -> None:
    """One block per row: what, why, how to fix (reads well at any terminal width)."""
    if not items:
        out.print("The exception queue is empty.")
        return
    out.print(f"[bold]Exception queue — {len(items)} open[/]")
    for item in items:
        tries = "1 try" if item.attempts == 1 else f"{item.attempts} tries"
        detail = ", ".join(
            x for x in (item.kind, f"field {item.field}" if item.field else "", tries) if x
        )
        out.print(f"\n [bold]#{item.id}[/] {item.record}  [dim]({detail})[/]", highlight=False)
        out.print(f"     why: {item.error}", highlight=False, markup=False)
        if item.waiting_on:
            out.print(f"     waits for: {item.waiting_on}", highlight=False, markup=False)
        if item.hint:
            out.print(f"     fix: {item.hint}", highlight=False, markup=False)


@app.command()
def queue(
    flow: Annotated[str | None, typer.Option(help="Only this flow.")] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """The exception queue: what failed, waits or conflicts, why, and how to fix it."""
    with _opened(workspace, as_json) as (_ws, store):
        items = queue_items(store, flow=flow)
    if as_json:
        _emit([i.as_json() for i in items])
    else:
        _print_queue(items)


def _report(results: list[RunResult], as_json: bool) -> None:
    if as_json:
        _emit({"runs": [r.as_json() for r in results]})
    else:
        for result in results:
            for text in result.dry_run_entries:
                out.print(text, highlight=False, markup=False)
            _print_run(result)
    if any(r.failed for r in results):
        raise typer.Exit(1)


@app.command("retry")
def retry_cmd(
    ids: Annotated[list[int] | None, typer.Argument(help="Queue row ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every failed row.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Retry failed records (after a passing failure, or a fix in the source)."""
    if not ids and not all_:
        _fail("give queue row ids or --all", as_json=as_json)
    with _opened(workspace, as_json) as (ws, store), flow_runtimes(ws) as lookup:
        results = retry(store, lookup, None if all_ else ids, actor=_actor())
    _report(results, as_json)


@app.command("replay")
def replay_cmd(
    keys: Annotated[list[str], typer.Argument(help="Record keys, e.g. stripe:invoice:in_123.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be posted.")] = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Replay records through the current mapping, after a fix."""
    with _opened(workspace, as_json) as (ws, store):
        default = ws.flows[0].name if len(ws.flows) == 1 else None
        with flow_runtimes(ws) as lookup:
            results = replay(
                store, lookup, keys, actor=_actor(), dry_run=dry_run, default_flow=default
            )
    _report(results, as_json)


# ---------------------------------------------------------------- audit and trace
@app.command()
def audit(
    record: Annotated[str | None, typer.Option(help="Only rows of this record key.")] = None,
    verify: Annotated[bool, typer.Option(help="Re-compute the hash chain.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """The append-only audit log; --verify checks its hash chain."""
    with _opened(workspace, as_json) as (_ws, store):
        if verify:
            verdict = store.verify_audit()
            if as_json:
                _emit({"ok": verdict.ok, "rows": verdict.rows, "first_bad": verdict.first_bad})
            elif verdict.ok:
                out.print(f"Audit chain verified: {verdict.rows} rows, no change since written.")
            else:
                out.print(
                    f"[bold red]Audit chain broken[/] at row {verdict.first_bad} "
                    f"({verdict.rows} rows checked): that row was changed after it was "
                    "written."
                )
            if not verdict.ok:
                raise typer.Exit(1)
            return
        rows = store.audit_rows(record_key=record, limit=limit)
    if as_json:
        _emit(
            [
                {
                    "seq": r.seq,
                    "at": r.at.isoformat(),
                    "actor": r.actor,
                    "action": r.action,
                    "record": r.record_key,
                    "diff": r.diff,
                    "run": r.run_id,
                    "mapping_version": r.mapping_version,
                    "hash": r.hash,
                }
                for r in rows
            ]
        )
        return
    table = Table(title="Audit log")
    for column in ("seq", "at", "actor", "action", "record", "change"):
        table.add_column(column, overflow="fold")
    for r in rows:
        change = ", ".join(f"{k}: {v}" for k, v in r.diff.items())
        table.add_row(
            str(r.seq), r.at.isoformat(timespec="seconds"), r.actor, r.action, r.record_key, change
        )
    out.print(table)


@app.command("trace")
def trace_cmd(
    ref: Annotated[str, typer.Argument(help="An invoice number, a Stripe id or a record key.")],
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """One invoice from trigger to ledger: systems, versions, attempts, postings, handoffs."""
    with _opened(workspace, as_json) as (_ws, store):
        key = resolve_ref(store, ref)
        if key is None:
            _fail(
                f"no record matches {ref!r} (try an invoice number, in_… id or record key)",
                as_json=as_json,
            )
        result = trace(store, key)
    if as_json:
        _emit(result.as_json())
        return
    out.print(
        f"[bold]{result.record}[/] — {len(result.postings)} postings, {result.handoffs} handoffs",
        highlight=False,
    )
    for e in result.events:
        when = (e["at"] or "")[:19].replace("T", " ")
        other = "" if e["record"] == result.record else e["record"].split(":", 1)[-1]
        out.print(f"  {when}  {e['actor']:<12} {e['event']:<9} {other}", highlight=False)
        if e["detail"]:
            out.print(f"  {'':19}  {'':12} {e['detail']}", highlight=False, markup=False)


from .cli_monitor import register as _register_monitor  # noqa: E402 - uses the helpers above
from .cli_monitor import run_alerts as _run_alerts  # noqa: E402

_register_monitor(app)


def main() -> None:
    app()


# ---------------------------------------------------------------- service (issue 7)
from .cli_service import serve, token_app, user_app  # noqa: E402

app.command("serve")(serve)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

# ---------------------------------------------------------------- books check (issue 5)
from .cli_books import books_app  # noqa: E402 - registered last, after the commands above

app.add_typer(books_app, name="books")

# ---------------------------------------------------------------- invoice numbers (issue 5)
from .cli_numbers import numbers_cmd  # noqa: E402 - registered last: it uses this module's helpers

app.command("numbers")(numbers_cmd)

# ---------------------------------------------------------------- worker
from .cli_worker import worker_cmd  # noqa: E402 - registered last: it uses this module's helpers

app.command("worker")(worker_cmd)

# ---------------------------------------------------------------- Stripe write-back (issue 4)
from .cli_stripe import stripe_app  # noqa: E402 - registered last: it uses this module's helpers

app.add_typer(stripe_app, name="stripe")
