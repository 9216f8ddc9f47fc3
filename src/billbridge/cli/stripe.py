"""`billbridge stripe …`: change Stripe on behalf of another system (write-back).

A thin shell over `engine.writeback.write_back`: it picks the live Stripe connection,
builds the request, asks for confirmation on a `mode: production` connection (these
commands change real money state: `--yes` for scripts), and prints the outcome. Exit 0
when done (or already done), 1 when Stripe refused or did not answer (the queue has the
row, with the hint), 2 for bad usage or configuration (nothing was sent).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from billbridge.config import StripeConnection
from billbridge.engine.writeback import (
    Action,
    WriteBackOutcome,
    WriteBackRequest,
    invoice_request,
    write_back,
)
from billbridge.engine.writeback_input import customer_request
from billbridge.wiring import writeback_connection, writeback_connector

from ._common import (
    JsonOpt,
    WorkspaceOpt,
    acting,
    emit,
    err,
    fail,
    group_workspace,
    opened,
    out,
)

__all__ = ["stripe_app"]

stripe_app = typer.Typer(
    help="Change Stripe on behalf of another system: mark invoices paid, void, push customers."
)

ConnectionOpt = Annotated[
    str | None,
    typer.Option("--connection", "-c", help="The Stripe connection (default: the only live one)."),
]
YesOpt = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Confirm a change on a `mode: production` connection."),
]


stripe_app.callback()(group_workspace)


def _confirm(name: str, conn: StripeConnection, what: str, *, yes: bool, as_json: bool) -> None:
    """Production changes real money state: `--yes`, or an explicit yes at a terminal."""
    if conn.mode != "production" or yes:
        return
    if as_json or not sys.stdin.isatty():
        fail(
            f"connection {name!r} is `mode: production`: {what} changes real money state in "
            "Stripe; pass --yes to confirm (nothing was sent)",
            as_json=as_json,
        )
    if not typer.confirm(f"{what} on the production Stripe account ({name})?", default=False):
        fail("not confirmed; nothing was sent", as_json=as_json)


def _run(
    workspace: Path,
    connection: str | None,
    build: Callable[[str], list[WriteBackRequest]],
    what: str,
    *,
    yes: bool,
    as_json: bool,
) -> list[WriteBackOutcome]:
    with opened(workspace, as_json) as (ws, store):
        name, conn = writeback_connection(ws, connection)
        try:
            requests = build(name)
        except (ValueError, OSError) as exc:
            fail(str(exc), as_json=as_json)
        _confirm(name, conn, what, yes=yes, as_json=as_json)
        connector = writeback_connector(conn)
        who = acting(ws, store, "run", production=conn.mode == "production", as_json=as_json)
        return [write_back(store, connector, r, actor=who.actor) for r in requests]


_DONE = {
    "mark-paid": "marked paid out of band",
    "void": "voided",
    "push-customer": "pushed",
}


def _say(o: WriteBackOutcome) -> None:
    if o.action == "push-customer":
        what = f"customer {o.object_id or '?'} for {o.record_key}"
    else:
        what = f"invoice {o.object_id}"
    line = {
        "already-done": f"{what}: already {_DONE[o.action]} by an earlier request; nothing sent",
        "failed": f"{what}: not {_DONE[o.action]}",
    }.get(o.status)
    if line is None:
        how = {
            "created": "created",
            "updated": _DONE[o.action] if o.action != "push-customer" else "updated",
            "found": f"{_DONE[o.action]} (an earlier attempt had landed: found by looking it "
            "up, nothing sent twice)",
            "unchanged": "already so in Stripe; nothing sent",
        }[o.how]
        line = f"{what}: {how}"
        if o.object_status:
            line += f" (status {o.object_status})"
    out.print(line, highlight=False, markup=False)
    if o.status == "failed":
        err.print(f"  error: {o.error}", highlight=False, markup=False)
        err.print(f"  fix: {o.hint}", highlight=False, markup=False)
        err.print("  (the row is in `billbridge queue`)", highlight=False, markup=False)
    else:
        out.print(f"  idempotency key {o.idempotency_key}", highlight=False, markup=False)


def _finish(outcomes: list[WriteBackOutcome], as_json: bool, *, single: bool) -> None:
    if as_json:
        if single:
            emit(outcomes[0].as_json())
        else:
            emit({"results": [o.as_json() for o in outcomes]})
    else:
        for outcome in outcomes:
            _say(outcome)
    raise typer.Exit(0 if all(o.ok for o in outcomes) else 1)


def _invoice(
    action: Action,
    invoice_id: str,
    connection: str | None,
    yes: bool,
    workspace: Path,
    as_json: bool,
) -> None:
    verb = "mark invoice paid out of band" if action == "mark-paid" else "void invoice"
    outcomes = _run(
        workspace,
        connection,
        lambda name: [invoice_request(name, action, invoice_id)],
        f"{verb} {invoice_id}",
        yes=yes,
        as_json=as_json,
    )
    _finish(outcomes, as_json, single=True)


@stripe_app.command("mark-paid")
def mark_paid(
    invoice_id: Annotated[str, typer.Argument(help="The Stripe invoice id (in_…).")],
    connection: ConnectionOpt = None,
    yes: YesOpt = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Mark an open invoice paid outside Stripe (`paid_out_of_band`, e.g. a bank transfer)."""
    _invoice("mark-paid", invoice_id, connection, yes, workspace, as_json)


@stripe_app.command("void")
def void(
    invoice_id: Annotated[str, typer.Argument(help="The Stripe invoice id (in_…).")],
    connection: ConnectionOpt = None,
    yes: YesOpt = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Void an open invoice in Stripe (the ledger gets its reversal on the next sync)."""
    _invoice("void", invoice_id, connection, yes, workspace, as_json)


def _read_records(source: str) -> tuple[str, Any]:
    """(where, parsed JSON) from `-` (stdin), inline JSON, or a file."""
    text, where = source, "--from"
    if source == "-":
        text, where = sys.stdin.read(), "stdin"
    elif not source.lstrip().startswith(("{", "[")):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"--from: no file {source!r} (give a JSON file, `-`, or JSON text)")
        text, where = path.read_text("utf-8"), str(path)
    try:
        return where, json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{where}: line {exc.lineno}, column {exc.colno}: not JSON ({exc.msg})"
        ) from None


@stripe_app.command("push-customer")
def push_customer(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="A customer record (or a list of them): a JSON file, `-` for stdin, or JSON.",
        ),
    ],
    connection: ConnectionOpt = None,
    yes: YesOpt = False,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Create or update Stripe customers from another system's records.

    Each record is Stripe-shaped (name, email, phone, address, tax_ids, …) and carries its
    key in `metadata.billbridge_key` (e.g. crm:customer:42): the customer is found by it,
    so pushing again updates it and never creates a second one.
    """

    def build(name: str) -> list[WriteBackRequest]:
        where, data = _read_records(source)
        records = data if isinstance(data, list) else [data]
        if not records:
            raise ValueError(f"{where}: no customer records")
        requests = []
        for i, record in enumerate(records):
            label = f"{where}[{i}]" if isinstance(data, list) else where
            requests.append(customer_request(name, record, source=label))
        return requests

    outcomes = _run(workspace, connection, build, "push customers", yes=yes, as_json=as_json)
    _finish(outcomes, as_json, single=False)
