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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.text import Text

from billbridge import __version__
from billbridge.audit_anchors import anchor_or_say
from billbridge.config import CONFIG_NAME, ConfigError, Workspace, load_workspace
from billbridge.connectors.base import ConnectorError, RetryableError
from billbridge.engine.model import FlowRuntime
from billbridge.engine.queue import UnknownRecordError
from billbridge.identity import TOKEN_ENV, Identity, login_file, person_of, proven_identity
from billbridge.roles import Action, refusal
from billbridge.store import AuditHead, Store, StoreError
from billbridge.wiring import open_workspace_store

__all__ = [
    "JsonOpt",
    "WorkspaceOpt",
    "acting",
    "anchor_after",
    "app",
    "current_actor",
    "emit",
    "err",
    "fail",
    "group_workspace",
    "mapping_notes",
    "opened",
    "out",
    "say",
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


def say(text: str, style: str = "", *, to_err: bool = False) -> None:
    """Print plain text as it is: never read as console markup, so `billbridge[service]`
    or a customer's name with brackets prints exactly."""
    (err if to_err else out).print(Text(text, style=style), highlight=False)


def fail(message: str, *, as_json: bool, code: int = 2) -> NoReturn:
    if as_json:
        emit({"error": message})
    else:
        err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    raise typer.Exit(code)


def current_actor() -> str:
    name = os.environ.get("BILLBRIDGE_ACTOR")
    if name:
        return name
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _no_workspace(workspace: Path) -> str | None:
    """Why `workspace` is no workspace, in words that say what to do; None if it is one."""
    folder = workspace.resolve()
    if workspace.is_file() or (workspace.is_dir() and (workspace / CONFIG_NAME).is_file()):
        return None
    what = "does not exist" if not workspace.exists() else f"has no {CONFIG_NAME}"
    return (
        f"{folder} {what}: it is not a billbridge workspace. Create one there with "
        f"`billbridge init {workspace}`, or name an existing one with `-w DIR` "
        "(or BILLBRIDGE_WORKSPACE)"
    )


def _signed_in_token(ws: Workspace) -> tuple[str, str] | None:
    """(token, where it came from): BILLBRIDGE_TOKEN, else this OS user's `billbridge login`."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token, TOKEN_ENV
    path = login_file(ws.state_url())
    try:
        saved = path.read_text("utf-8").split()
    except OSError:
        return None
    return (saved[0], "your `billbridge login`") if saved else None


def acting(
    ws: Workspace,
    store: Store,
    what: Action,
    *,
    as_json: bool,
    flows: Sequence[str] | None = None,
    production: bool | None = None,
) -> Identity:
    """Who runs this command, checked against the store (every state-changing command asks).

    Signed in (a token in BILLBRIDGE_TOKEN, or `billbridge login`): that user, whose role
    must permit `what` (`billbridge.roles`). Not signed in: the name from the environment,
    as before change control, unless one of `flows` (default: every flow) is on
    production and the store has users; then the command is refused, since four-eyes
    needs people it can tell apart. `production`, when given, decides instead of `flows`
    (a command about a connection, not a flow: a write-back to Stripe).
    """
    signed = _signed_in_token(ws)
    if signed is not None:
        token, source = signed
        who = proven_identity(store, token)
        if who is None:
            fail(
                f"the token from {source} is not valid (unknown, revoked or expired): "
                "`billbridge login` again, or ask an admin for a new token",
                as_json=as_json,
            )
        refused = refusal(who.name, who.role, what)
        if refused is not None:
            fail(refused, as_json=as_json)
        return who
    if production is None:
        names = list(flows) if flows is not None else [f.name for f in ws.flows]
        on = [f"flow {name}" for name in names if ws.is_production(name)]
    else:
        on = ["this connection"] if production else []
    if on and store.list_users():
        fail(
            f"{on[0]} is on production and this state store has users: sign in "
            f"first (`billbridge login`, or {TOKEN_ENV}=<your API token>), so the audit log "
            "and four-eyes know who you are",
            as_json=as_json,
        )
    actor = current_actor()
    return Identity(name=person_of(actor), role="admin", proven=False, actor=actor)


@contextmanager
def opened(workspace: Path, as_json: bool) -> Iterator[tuple[Workspace, Store]]:
    """The workspace and its store for one command; a command that added audit rows
    (a run, a dismissal, a user change) anchors the chain's new head on its way out."""
    missing = _no_workspace(workspace)
    if missing is not None:
        fail(missing, as_json=as_json)
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


def _json_defaults(command: Any) -> dict[str, Any]:
    """`--json` as the default of every command below `command` (a click command, as
    typer builds it) that takes it: a group's `default_map` holds one map per command."""
    found: dict[str, Any] = {}
    if any(p.name == "as_json" for p in command.params):
        found["as_json"] = True
    for name, sub in (getattr(command, "commands", None) or {}).items():
        found[name] = _json_defaults(sub)
    return found


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder, for every command below."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output, for every command below.")
    ] = False,
) -> None:
    """billbridge: a self-hosted integration hub for billing and invoicing."""
    if workspace is not None:
        # Subcommands read their -w default from this variable (parsed after this callback).
        os.environ["BILLBRIDGE_WORKSPACE"] = str(workspace)
    if as_json:  # `billbridge --json queue`: the command below takes it as its own default
        ctx.default_map = {**(ctx.default_map or {}), **_json_defaults(ctx.command)}


def group_workspace(
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder (also accepted here)."),
    ] = None,
) -> None:
    """The callback of a command group (`books`, `stripe`): `-w DIR` after its name too."""
    if workspace is not None:
        os.environ["BILLBRIDGE_WORKSPACE"] = str(workspace)


def mapping_notes(lookup: Callable[[str], FlowRuntime]) -> tuple[Callable[[str], FlowRuntime],
                                                                  list[str]]:  # fmt: skip
    """`lookup` that also collects what each flow built says about its mapping version
    (a draft waiting on production, a sandbox running one), for `report_runs`."""
    notes: list[str] = []

    def noting(name: str) -> FlowRuntime:
        runtime = lookup(name)
        state = runtime.mapping_state
        note = state.note(name) if state is not None else ""
        if note and note not in notes:
            notes.append(note)
        return runtime

    return noting, notes
