"""`billbridge sync`: run flows, with a progress bar on a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from billbridge.engine.causes import group_causes
from billbridge.engine.notify import deliver_notifications
from billbridge.engine.run import sync_flow
from billbridge.wiring import flows as flow_runtimes

from ._common import (
    JsonOpt,
    WorkspaceOpt,
    acting,
    app,
    current_actor,
    emit,
    err,
    fail,
    opened,
    out,
)
from ._show import open_queue, print_open_queue, print_run
from .monitor import run_alerts


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
    if since is not None and not backfill:
        # On a live source the cursor would move past the records the date filter skipped,
        # and they would never be read again: refused, not guessed at.
        fail(
            "--since needs --backfill: an incremental sync reads from where the last one "
            "stopped, and skipping older records there would lose them for good; run "
            "`billbridge sync --backfill --since DATE`",
            as_json=as_json,
        )
    if since is not None:
        try:
            since_day = date.fromisoformat(since)
        except ValueError:
            fail(f"--since: {since!r} is not a date (expected YYYY-MM-DD)", as_json=as_json)
    with opened(workspace, as_json) as (ws, store):
        names = flows or [f.name for f in ws.flows]
        actor = current_actor()
        if not dry_run:
            actor = acting(ws, store, "run", flows=names, as_json=as_json).actor
        results = []
        sources: dict[str, dict[str, Any]] = {}
        mappings: dict[str, dict[str, Any]] = {}
        for name in names:
            with flow_runtimes(ws, store=store, actor=actor) as lookup:
                runtime = lookup(name)
                state = runtime.mapping_state
                if state is not None and state.note(name):  # a draft waits, or a sandbox runs it
                    mappings[name] = {"version": runtime.mapping.version, "note": state.note(name),
                                      "draft_waiting": state.draft_waiting or None}  # fmt: skip
                    if not as_json:
                        err.print(state.note(name), highlight=False, markup=False)
                size = getattr(runtime.source, "size", None)
                total = size() if callable(size) else None
                note = getattr(runtime.source, "progress_note", None)
                with _progress(not as_json, name, total, note) as progress:
                    results.append(
                        sync_flow(
                            runtime,
                            store,
                            actor=actor,
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
            for problem in deliver_notifications(ws, store):  # e.g. a plan upgrade's notice
                err.print(f"[bold yellow]warning:[/] notice not delivered: {problem}",
                          highlight=False, markup=False)  # fmt: skip
            run_alerts(ws, store, quiet=as_json)
        # What waits for a person after this run, also when this run added nothing.
        queue = open_queue(store, names, group_causes(store.open_exceptions()))
    if as_json:
        runs = [
            {
                **r.as_json(),
                **({"source": sources[r.flow]} if r.flow in sources else {}),
                **({"mapping": mappings[r.flow]} if r.flow in mappings else {}),
            }
            for r in results
        ]
        if len(results) == 1:
            emit({**runs[0], "queue": queue})
        else:
            totals = {k: sum(r.counts[k] for r in results) for k in results[0].counts}
            emit({"runs": runs, "counts": totals, "queue": queue})
    else:
        for result in results:
            print_run(result)
            if result.flow in sources:
                out.print(_source_line(sources[result.flow]), highlight=False, markup=False)
            elif result.figures is not None:  # a metered source with no summary of its own
                f = result.figures
                out.print(
                    f"  source: {f.requests} requests, {f.rate_limit_waits} rate-limit waits "
                    f"({f.rate_limit_wait_seconds:.3f} s), {f.throttled} answered 429",
                    highlight=False,
                )
        print_open_queue(queue)
    if any(r.needs_person for r in results) or (queue["needs_person"] and not dry_run):
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
