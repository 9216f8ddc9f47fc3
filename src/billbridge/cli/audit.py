"""`billbridge audit` (and `audit anchor`) and `billbridge trace`: who changed what, the
witness that it was not cut or rewritten, and one invoice's path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from billbridge.audit_anchors import (
    KEY_ENV,
    AnchorCheck,
    anchor_path,
    verify_with_anchors,
    write_anchor,
)
from billbridge.domain import plural
from billbridge.engine.trace import resolve_ref, trace
from billbridge.engine.words import change_text
from billbridge.wiring import record_namer

from ._common import JsonOpt, WorkspaceOpt, app, emit, fail, opened, out, say

audit_app = typer.Typer(
    help="The append-only audit log, newest first; --verify checks its hash chain and anchors.",
    invoke_without_command=True,
)


def _day(text: str | None, name: str, *, end: bool, as_json: bool) -> datetime | None:
    """A YYYY-MM-DD bound in UTC; the end bound takes its whole day."""
    if text is None:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        fail(f"--{name}: {text!r} is not a date (YYYY-MM-DD)", as_json=as_json)
    return day + timedelta(days=1) if end else day


@audit_app.callback()
def audit(
    ctx: typer.Context,
    record: Annotated[str | None, typer.Option(help="Only rows of this record key.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only rows by this actor.")] = None,
    since: Annotated[str | None, typer.Option(help="From this day on (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Up to this day (YYYY-MM-DD), included.")
    ] = None,
    verify: Annotated[
        bool, typer.Option(help="Re-compute the hash chain and check it against its anchors.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows (the newest).")] = 200,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """The append-only audit log, newest first; --verify checks its hash chain and anchors.

    `--json` lists the rows in sequence order (oldest first), each with its raw `diff`
    and the same `change` in words. Exit code with --verify: 1 if a row was changed, the
    chain was cut or rewritten (it disagrees with an anchor), or an anchor line is
    unreadable, unsigned or forged.
    """
    if ctx.invoked_subcommand is not None:
        return
    lo = _day(since, "since", end=False, as_json=as_json)
    hi = _day(until, "until", end=True, as_json=as_json)
    with opened(workspace, as_json) as (ws, store):
        if verify:
            _print_verify(verify_with_anchors(ws, store), as_json=as_json)
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


def _print_verify(check: AnchorCheck, *, as_json: bool) -> None:
    if as_json:
        emit(check.as_json())
    elif check.ok:
        rows = check.verdict.rows
        say(f"Audit chain verified: {plural(rows, 'row')}, no change since written.")
        latest = check.latest
        if latest is not None:
            out.print(
                f"It agrees with every anchor in {check.path}; the latest saw seq "
                f"{latest.seq} at {latest.at}.",
                highlight=False,
            )
        elif rows:
            out.print(
                f"[yellow]No anchor in {check.path} yet[/]: a cut or a rewrite of the chain "
                "cannot be found without one (`billbridge audit anchor` writes one).",
                highlight=False,
            )
        if check.unchecked_signatures:
            out.print(f"The anchors are signed: set {KEY_ENV} to check their signatures.")
    else:
        out.print("[bold red]Audit chain does not verify[/]:", highlight=False)
        for line in check.explain():
            out.print(f"  - {line}", highlight=False, markup=False)
    if not check.ok:
        raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Write the chain's head (seq and hash) to its anchor file now (also done after
    every run). Refused, with exit 1, while the chain does not verify."""
    with opened(workspace, as_json) as (ws, store):
        check = verify_with_anchors(ws, store)
        if not check.ok:
            fail(
                "the audit chain does not verify, so its head is not anchored: "
                + "; ".join(check.explain()),
                as_json=as_json,
                code=1,
            )
        head = store.audit_head()
        if head is None:
            fail("the audit log is empty: nothing to anchor yet", as_json=as_json, code=1)
        latest = check.latest
        written = None
        if latest is None or (latest.seq, latest.hash) != (head.seq, head.hash):
            written = write_anchor(anchor_path(ws), head)
    anchor = written or latest
    assert anchor is not None
    if as_json:
        emit({**anchor.as_json(), "written": written is not None, "anchors": str(check.path)})
    elif written is not None:
        out.print(f"Anchored seq {anchor.seq} ({anchor.hash[:16]}…) in {check.path}.")
    else:
        out.print(f"Already anchored: seq {anchor.seq} at {anchor.at} in {check.path}.")


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


app.add_typer(audit_app, name="audit")
