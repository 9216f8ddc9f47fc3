"""What every `billbridge` command shares: the typer app, consoles, options and helpers.

Why one module: each command module imports from here and from nowhere else in the
CLI, so the package has no import circle. Exit codes are a contract scripts rely on:
0 ok; 1 the run finished but some records failed (the queue says which); 2 bad usage or
bad configuration, with a message naming the file, the line and the field.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.table import Table

from billbridge import __version__
from billbridge.audit_anchors import anchor_or_say
from billbridge.config import ConfigError, Workspace, load_workspace
from billbridge.connectors.base import ConnectorError, RetryableError
from billbridge.engine.model import RunResult
from billbridge.engine.queue import UnknownRecordError
from billbridge.store import AuditHead, Store, StoreError
from billbridge.wiring import open_workspace_store

__all__ = [
    "JsonOpt",
    "WorkspaceOpt",
    "anchor_after",
    "app",
    "current_actor",
    "emit",
    "err",
    "fail",
    "group_workspace",
    "opened",
    "out",
    "print_queue",
    "print_run",
    "report_runs",
]

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


def emit(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def fail(message: str, *, as_json: bool, code: int = 2) -> NoReturn:
    if as_json:
        emit({"error": message})
    else:
        err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def current_actor() -> str:
    name = os.environ.get("BILLBRIDGE_ACTOR")
    if name:
        return name
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def opened(workspace: Path, as_json: bool) -> Iterator[tuple[Workspace, Store]]:
    """The workspace and its store for one command; a command that added audit rows
    (a run, a dismissal, a user change) anchors the chain's new head on its way out."""
    try:
        ws = load_workspace(workspace)
        store = open_workspace_store(ws)
        head = store.audit_head()
    except ConfigError as exc:
        fail(str(exc), as_json=as_json)
    except StoreError as exc:
        fail(f"state store: {exc}", as_json=as_json)
    try:
        yield ws, store
    except (ConfigError, UnknownRecordError) as exc:
        fail(str(exc), as_json=as_json)
    except ConnectorError as exc:
        fail(str(exc), as_json=as_json, code=1 if isinstance(exc, RetryableError) else 2)
    finally:
        try:
            anchor_after(ws, store, since=head)
        finally:
            store.close()


def anchor_after(ws: Workspace, store: Store, *, since: AuditHead | None = None) -> None:
    """Anchor the audit chain if it moved; a failure is said on stderr, never hidden."""
    problem = anchor_or_say(ws, store, since=since)
    if problem is not None:
        err.print(f"[bold yellow]warning:[/] {problem}", highlight=False, markup=False)


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


def print_run(result: RunResult) -> None:
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


def print_queue(items: list[Any]) -> None:
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


def report_runs(results: list[RunResult], as_json: bool) -> None:
    if as_json:
        emit({"runs": [r.as_json() for r in results]})
    else:
        for result in results:
            for text in result.dry_run_entries:
                out.print(text, highlight=False, markup=False)
            print_run(result)
    if any(r.failed for r in results):
        raise typer.Exit(1)
