"""`billbridge audit` and `billbridge trace`: who changed what, and one invoice's path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from billbridge.engine.trace import resolve_ref, trace

from ._common import JsonOpt, WorkspaceOpt, app, emit, fail, opened, out


@app.command()
def audit(
    record: Annotated[str | None, typer.Option(help="Only rows of this record key.")] = None,
    verify: Annotated[bool, typer.Option(help="Re-compute the hash chain.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """The append-only audit log; --verify checks its hash chain."""
    with opened(workspace, as_json) as (_ws, store):
        if verify:
            verdict = store.verify_audit()
            if as_json:
                emit({"ok": verdict.ok, "rows": verdict.rows, "first_bad": verdict.first_bad})
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
        emit(
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
    with opened(workspace, as_json) as (_ws, store):
        key = resolve_ref(store, ref)
        if key is None:
            fail(
                f"no record matches {ref!r} (try an invoice number, in_… id or record key)",
                as_json=as_json,
            )
        result = trace(store, key)
    if as_json:
        emit(result.as_json())
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
