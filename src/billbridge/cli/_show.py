"""How runs, the queue and its causes read at a terminal (and in `--json`).

Why a module of its own: `sync`, `retry`, `replay`, `queue` and `demo` print the same
things the same way: a run's counts, what a dry run would post and what would still
fail (with the reason), the records as a person names them, and the queue by cause
with the one command that clears each. Every text from a record goes out as plain text
(`say`), never as console markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from billbridge.domain import plural
from billbridge.engine.causes import Cause, needs_person
from billbridge.engine.model import RunResult
from billbridge.engine.queue import QueueItem
from billbridge.engine.words import RecordNamer
from billbridge.store import Store

from ._common import emit, out, say

__all__ = [
    "age_text",
    "name_problems",
    "open_queue",
    "print_causes",
    "print_open_queue",
    "print_queue",
    "print_run",
    "print_states",
    "report_runs",
]

_SHOWN = 3  # example records shown per cause, and entries per dry run (all in --json)


def age_text(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{max(seconds, 0)} s"


def name_problems(results: Sequence[RunResult], namer: RecordNamer) -> None:
    """Add the record's words to each problem a dry run found (while the store is open)."""
    for result in results:
        for problem in result.dry_run_problems:
            problem["words"] = namer.text(problem["record"])


def print_run(result: RunResult) -> None:
    if result.dry_run:
        title = f"Dry run — flow {result.flow} (nothing was written)"
    else:
        title = f"Run {result.run} — flow {result.flow}"
    table = Table(title=title, show_header=True)
    for name in result.counts:
        table.add_column(name, justify="right")
    table.add_row(*(str(v) for v in result.counts.values()))
    out.print(table)
    entries = plural(result.posted, "journal entry", "journal entries")
    if result.dry_run:
        say(f"would write {entries}; nothing was written (dry run)")
        shown = result.dry_run_entries[:_SHOWN]
        for text in shown:
            say(text)
        if len(result.dry_run_entries) > len(shown):
            more = len(result.dry_run_entries) - len(shown)
            say(f"… and {plural(more, 'more entry', 'more entries')} (all of them: --json)")
        for problem in result.dry_run_problems:
            who = problem.get("words") or problem["record"]
            say(f"would still be {problem['outcome']}: {who}", "bold")
            say(f"    why: {problem['error']}")
            if problem.get("hint"):
                say(f"    fix: {problem['hint']}")
    else:
        recovered = result.recovered
        say(
            f"{entries} written"
            + (f", {recovered} recovered from an interrupted run" if recovered else "")
        )
    if result.stopped:
        say(f"run stopped: {result.stopped}", "bold red", to_err=True)


def print_states(states: Sequence[dict[str, Any]]) -> None:
    """After a retry or replay: where each record stands now (the done ones counted)."""
    done = [s for s in states if s["state"] == "done"]
    if len(done) <= _SHOWN:
        for state in done:
            say(f"  done: {state.get('words') or state['record']}")
    else:
        say(f"  done: {plural(len(done), 'record')} (out of the queue)")
    for state in states:
        if state["state"] != "done":
            who = state.get("words") or state["record"]
            say(f"  still {state['state']} (#{state['id']}): {who}", "bold")
            say(f"      why: {state['why']}")


def report_runs(
    results: list[RunResult],
    as_json: bool,
    states: Sequence[dict[str, Any]] = (),
    notes: Sequence[str] = (),
) -> None:
    """The runs, where each record stands after them, and what each flow's build said
    about its mapping version (`notes`: a draft waiting on production, a sandbox's draft)."""
    if as_json:
        data: dict[str, Any] = {"runs": [r.as_json() for r in results]}
        if states:
            data["records"] = list(states)
        if notes:
            data["mapping"] = list(notes)
        emit(data)
    else:
        for note in notes:
            say(note, to_err=True)
        for result in results:
            print_run(result)
        print_states(states)
    if any(r.needs_person for r in results):
        raise typer.Exit(1)


def print_causes(causes: Sequence[Cause], *, open_rows: int) -> None:
    """The queue by cause: what, how many, how much, how old, and the one fix."""
    if not causes:
        say("The exception queue is empty.")
        return
    say(
        f"Exception queue — {plural(open_rows, 'open row')} in {plural(len(causes), 'cause')}",
        "bold",
    )
    for number, cause in enumerate(causes, start=1):
        say(f"\n {number}. {cause.cause} — {cause.summary()}, oldest {age_text(cause.oldest)}")
        say(f"    why: {cause.problem}")
        say(f"    fix: {cause.fix}")
        examples = [cause.words.get(r.record_key) for r in cause.rows[:_SHOWN]]
        shown = [w.text() for w in examples if w is not None]
        if shown:
            more = cause.count - len(shown)
            say("    e.g. " + "; ".join(shown) + (f" (and {more} more)" if more > 0 else ""))
    say(
        "\nEvery row: `billbridge queue --rows`. After a fix, preview and replay one cause: "
        "`billbridge replay --cause CAUSE --dry-run`, then without --dry-run."
    )


def print_queue(items: Sequence[QueueItem]) -> None:
    """One block per row: the record in words, what, why, how to fix."""
    if not items:
        say("The exception queue is empty.")
        return
    say(f"Exception queue — {plural(len(items), 'open row')}", "bold")
    for item in items:
        tries = plural(item.attempts, "try", "tries")
        detail = ", ".join(
            x for x in (item.kind, f"field {item.field}" if item.field else "", tries) if x
        )
        say(f"\n #{item.id} {item.words_text or item.record}  ({detail})")
        say(f"     record: {item.record}   cause: {item.cause}")
        say(f"     why: {item.error}")
        if item.waiting_on:
            say(f"     waits for: {item.waiting_on}")
        if item.hint:
            say(f"     fix: {item.hint}")


def open_queue(store: Store, flows: Sequence[str], causes: Sequence[Cause]) -> dict[str, Any]:
    """What is open in the queue for `flows` after a run, and the bulk commands that fix it.

    Said after every sync, also when the run itself added nothing: rows from earlier
    runs still wait for a person.
    """
    rows = [r for r in store.open_exceptions() if r.flow in set(flows)]
    mine = [c for c in causes if set(c.flows) & set(flows)]
    by_kind = {k: sum(1 for r in rows if r.kind == k) for k in ("failed", "held", "conflict")}
    commands = [f"billbridge replay --cause {c.cause}" for c in mine[:_SHOWN]]
    if by_kind["failed"]:
        commands.append("billbridge retry --all")
    return {
        "open": len(rows),
        **by_kind,
        "needs_person": sum(1 for r in rows if needs_person(r)),
        "causes": [c.cause for c in mine],
        "commands": commands,
    }


def print_open_queue(summary: dict[str, Any]) -> None:
    if not summary["open"]:
        say("Queue: empty.")
        return
    kinds = ", ".join(f"{summary[k]} {k}" for k in ("failed", "held", "conflict"))
    say(
        f"Queue: {plural(summary['open'], 'row')} open ({kinds}) in "
        f"{plural(len(summary['causes']), 'cause')}; "
        f"{plural(summary['needs_person'], 'needs', 'need')} a person. "
        "See `billbridge queue`.",
        "bold yellow" if summary["needs_person"] else "",
    )
    for command in summary["commands"]:
        say(f"  after the fix: {command}")
