"""`billbridge audit` and `billbridge trace`: who changed what, and one invoice's path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from billbridge.domain import plural
from billbridge.engine.trace import resolve_ref, trace
from billbridge.engine.words import change_text
from billbridge.wiring import record_namer

from ._common import JsonOpt, WorkspaceOpt, app, emit, fail, opened, out, say


def _day(text: str | None, name: str, *, end: bool, as_json: bool) -> datetime | None:
    """A YYYY-MM-DD bound in UTC; the end bound takes its whole day."""
    if text is None:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        fail(f"--{name}: {text!r} is not a date (YYYY-MM-DD)", as_json=as_json)
    return day + timedelta(days=1) if end else day


@app.command()
def audit(
    record: Annotated[str | None, typer.Option(help="Only rows of this record key.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only rows by this actor.")] = None,
    since: Annotated[str | None, typer.Option(help="From this day on (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Up to this day (YYYY-MM-DD), included.")
    ] = None,
    verify: Annotated[bool, typer.Option(help="Re-compute the hash chain.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows (the newest).")] = 200,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """The append-only audit log, newest first; --verify checks its hash chain.

    `--json` lists the rows in sequence order (oldest first), each with its raw `diff`
    and the same `change` in words.
    """
    lo = _day(since, "since", end=False, as_json=as_json)
    hi = _day(until, "until", end=True, as_json=as_json)
    with opened(workspace, as_json) as (ws, store):
        if verify:
            verdict = store.verify_audit()
            if as_json:
                emit({"ok": verdict.ok, "rows": verdict.rows, "first_bad": verdict.first_bad})
            elif verdict.ok:
                say(
                    f"Audit chain verified: {plural(verdict.rows, 'row')}, no change since written."
                )
            else:
                out.print(
                    f"[bold red]Audit chain broken[/] at row {verdict.first_bad} "
                    f"({plural(verdict.rows, 'row')} checked): that row was changed after it was "
                    "written."
                )
            if not verdict.ok:
                raise typer.Exit(1)
            return
        rows = store.search_audit(
            record_key=record, actor=actor, since=lo, until=hi, limit=max(1, limit)
        )
        words = record_namer(ws, store).words(r.record_key for r in rows if r.record_key)
    if as_json:
        emit(
            [
                {
                    "seq": r.seq,
                    "at": r.at.isoformat(),
                    "actor": r.actor,
                    "action": r.action,
                    "record": r.record_key,
                    "words": words[r.record_key].text() if r.record_key in words else "",
                    "diff": r.diff,
                    "change": change_text(r.diff),
                    "run": r.run_id,
                    "mapping_version": r.mapping_version,
                    "hash": r.hash,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        say("No audit rows match.")
        return
    table = Table(title=f"Audit log — {plural(len(rows), 'row')}, newest first")
    for column in ("#", "when (UTC)", "who", "what", "record", "change"):
        table.add_column(column, overflow="fold")
    for r in reversed(rows):
        named = words.get(r.record_key)
        who = f"{named.text()}\n{r.record_key}" if named is not None else r.record_key
        table.add_row(
            str(r.seq), r.at.strftime("%Y-%m-%d %H:%M:%S"), Text(r.actor), r.action,
            Text(who), Text(change_text(r.diff)),
        )  # fmt: skip
    out.print(table)


@app.command("trace")
def trace_cmd(
    ref: Annotated[str, typer.Argument(help="An invoice number, a Stripe id or a record key.")],
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """One invoice from trigger to ledger: systems, versions, attempts, postings, handoffs."""
    with opened(workspace, as_json) as (ws, store):
        key = resolve_ref(store, ref)
        if key is None:
            fail(
                f"no record matches {ref!r} (try an invoice number, in_… id or record key)",
                as_json=as_json,
            )
        result = trace(store, key, record_namer(ws, store))
    if as_json:
        emit(result.as_json())
        return
    say(f"{result.words.get(result.record) or result.record}", "bold")
    say(
        f"{result.record} — {plural(len(result.postings), 'journal entry', 'journal entries')}"
        f", {plural(result.handoffs, 'handoff')}"
    )
    for e in result.events:
        when = (e["at"] or "")[:19].replace("T", " ")
        other = "" if e["record"] == result.record else (e["words"] or e["record"])
        say(f"  {when}  {e['actor']:<12} {e['event']:<9} {other}")
        if e["detail"]:
            say(f"  {'':19}  {'':12} {e['detail']}")
    for p in result.postings:
        say(f"\n  {p['facet']}: {p['summary']} — {p['where']} ({p['target']})", "bold")
        for line in p["lines"]:
            say(f"    {line['account']:<40} {line['text']:>20}")
