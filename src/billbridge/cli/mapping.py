"""`billbridge mapping history|diff|test|promote|rollback FLOW`: change control of mappings.

Thin shells over engine/mapping_change.py and engine/mapping_test.py; the API and the web
UI call the same functions (service/api_mapping.py), so a promotion from a terminal and
one from the browser are refused for the same reasons and leave the same audit rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from billbridge.config import Workspace
from billbridge.engine.mapping_change import (
    ChangeRefusedError,
    FlowRef,
    history,
    load_version,
    promote,
    resolve_version,
    rollback,
    version_diff,
)
from billbridge.engine.mapping_test import ReplanReport
from billbridge.flow_mapping import flow_mapping, flow_ref, run_mapping_test
from billbridge.mapping.model import load_mapping
from billbridge.mapping.versions import VersionContentError
from billbridge.store import Store

from ._common import JsonOpt, WorkspaceOpt, acting, current_actor, emit, fail, opened, out

__all__ = ["mapping_app"]

mapping_app = typer.Typer(
    help="Change control: mapping versions, tests on recorded data, four-eyes promotion.",
    no_args_is_help=True,
)
FlowArg = Annotated[str, typer.Argument(help="The flow whose mapping this is about.")]


@contextmanager
def _flow(workspace: Path, flow: str, as_json: bool) -> Iterator[tuple[Workspace, Store, FlowRef]]:
    with opened(workspace, as_json) as (ws, store):
        ref = flow_ref(ws, flow)
        try:
            yield ws, store, ref
        except (ChangeRefusedError, VersionContentError) as exc:
            fail(str(exc), as_json=as_json)


@mapping_app.command("history")
def history_cmd(flow: FlowArg, workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Every version of the flow's mapping: author, time, comment, parent, tests, promotions."""
    with _flow(workspace, flow, as_json) as (ws, store, ref):
        state = flow_mapping(ws, flow, store=store, actor=current_actor())
        rows = history(store, ref, file_version=state.file_version)
    if as_json:
        emit({"flow": flow, "promoted": state.promoted, "file": state.file_version,
              "versions": [r.as_json() for r in rows]})  # fmt: skip
        return
    out.print(
        f"[bold]Mapping versions of {flow}[/] (promoted: {state.promoted})",
        highlight=False,
        emoji=False,
    )
    for row in rows:
        marks: list[str] = [row.status]
        if row.tests:
            marks.append("tested #" + ",#".join(map(str, row.tests)))
        if row.in_file:
            marks.append(f"in {ref.mapping_path.name}")
        out.print(
            f"  {row.version}  {row.created_at:%Y-%m-%d %H:%M}  {row.author:<14} "
            f"{', '.join(marks)}" + (f"  parent {row.parent}" if row.parent else ""),
            highlight=False, markup=False, emoji=False,
        )  # fmt: skip
        if row.comment:
            out.print(f"      {row.comment}", highlight=False, markup=False, emoji=False)
        for p in row.promotions:
            out.print(f"      {p.kind} by {p.actor} at {p.at:%Y-%m-%d %H:%M}"
                      + (f" (test #{p.test_id})" if p.test_id else ""),
                      highlight=False, markup=False, emoji=False)  # fmt: skip
    if state.draft_waiting and state.draft_waiting not in {r.version for r in rows}:
        out.print(
            f"  {state.draft_waiting}  (in {ref.mapping_path.name}, not stored yet: "
            f"`billbridge mapping test {flow}` keeps it as a draft)",
            highlight=False,
            emoji=False,
        )


@mapping_app.command("diff")
def diff_cmd(
    flow: FlowArg,
    old: Annotated[
        str | None, typer.Argument(help="From this version (default: promoted).")
    ] = None,
    new: Annotated[
        str | None, typer.Argument(help="To this version (default: the mapping file).")
    ] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """What changes in meaning: accounts, tax rates, products, rules added/removed/changed."""
    with _flow(workspace, flow, as_json) as (ws, store, ref):
        state = flow_mapping(ws, flow, store=store, actor=current_actor())
        before = resolve_version(store, ref, old) if old else state.promoted
        after_id = resolve_version(store, ref, new) if new else None
        after = after_id or load_mapping(ref.mapping_path)
        changes = version_diff(store, ref, before, after)
        shown = after_id or f"{ref.mapping_path.name} ({state.file_version})"
    if as_json:
        emit({"flow": flow, "from": before, "to": after_id or state.file_version,
              "changes": [c.as_json() for c in changes]})  # fmt: skip
        return
    out.print(f"[bold]{flow}[/]: {before} -> {shown}", highlight=False, emoji=False)
    if not changes:
        out.print("  no change of meaning")
    for change in changes:
        out.print(f"  {change.describe()}", highlight=False, markup=False, emoji=False)


def _since(text: str | None, as_json: bool) -> datetime | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        fail(f"--since: {text!r} is not a date (expected YYYY-MM-DD)", as_json=as_json)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@mapping_app.command("test")
def replan_cmd(
    flow: FlowArg,
    draft: Annotated[
        str | None, typer.Option(help="A stored draft (default: the mapping file, kept as one).")
    ] = None,
    records: Annotated[
        int | None, typer.Option(min=1, help="The N most recently seen records (default 1000).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Records seen since YYYY-MM-DD.")] = None,
    comment: Annotated[str, typer.Option(help="Why this draft (kept with it).")] = "",
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Re-plan recorded records under the draft and the promoted version; write nothing else."""
    if records is not None and since is not None:
        fail("give --records or --since, not both", as_json=as_json)
    start = _since(since, as_json)
    with _flow(workspace, flow, as_json) as (ws, store, _ref):
        who = acting(ws, store, "test", flows=[flow], as_json=as_json)
        test, report = run_mapping_test(
            ws, store, flow, who=who, draft=draft, comment=comment,
            limit=None if start else (records or 1000), since=start,
        )  # fmt: skip
    if as_json:
        emit({"test": test, **report.as_json()})
        return
    print_report(test, report)


def print_report(test: int, report: ReplanReport) -> None:
    out.print(
        f"[bold]Mapping test #{test}[/] of {report.flow}: draft {report.draft} against "
        f"promoted {report.base} — {report.records} records, {report.count('changed')} "
        f"changed, {report.count('newly failing')} newly failing, "
        f"{report.count('newly posting')} newly posting",
        highlight=False,
        emoji=False,
    )
    for change in report.changes:
        out.print(f"\n {change.record}  [dim]({change.kind})[/]", highlight=False, emoji=False)
        for why, text in (("failed with", change.error_before), ("fails with", change.error_after)):
            if text:
                out.print(f"     {why}: {text}", highlight=False, markup=False, emoji=False)
        for facet, was, now in change.dates:
            out.print(f"     {facet:<8} date {was} -> {now}", highlight=False, emoji=False)
        for line in change.lines:
            out.print(
                f"     {line.facet:<8} {line.account:<36} {line.currency} "
                f"{_amount(line.before):>12} -> {_amount(line.after)}",
                highlight=False, markup=False, emoji=False,
            )  # fmt: skip
    moved = [t for t in report.totals() if t["changed"]]
    if moved:
        out.print("\nTotals per account and currency that change:")
        for t in moved:
            out.print(f"  {t['account']:<40} {t['currency']} {t['before']:>12} -> {t['after']}",
                      highlight=False, markup=False, emoji=False)  # fmt: skip
    out.print("\nNothing was written to the ledger; the summary is kept for `mapping promote`.")


def _amount(value: Any) -> str:
    return "(none)" if value is None else str(value)


@mapping_app.command("promote")
def promote_cmd(
    flow: FlowArg,
    version: Annotated[str, typer.Argument(help="The draft to run from now on.")],
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Run VERSION from now on; on production an approver other than its author, after a test."""
    with _flow(workspace, flow, as_json) as (ws, store, ref):
        who = acting(ws, store, "promote", flows=[flow], as_json=as_json)
        flow_mapping(ws, flow, store=store, actor=who.actor)  # bootstraps a flow seen first now
        done = promote(store, ref, resolve_version(store, ref, version), who=who)
        changes = version_diff(store, ref, done.promotion.previous, done.promotion.version) \
            if done.promotion.previous else ()  # fmt: skip
    summary = done.test.summary if done.test else None
    if as_json:
        emit({"flow": flow, "promoted": done.promotion.version,
              "previous": done.promotion.previous or None, "author": done.author,
              "approver": who.actor, "test": done.test.id if done.test else None,
              "summary": summary, "changes": [c.as_json() for c in changes]})  # fmt: skip
        return
    if done.test is not None and summary is not None:
        out.print(
            f"Test #{done.test.id} by {done.test.actor}: {summary['records']} records, "
            f"{summary['changed']} changed, {summary['newly_failing']} newly failing, "
            f"{summary['newly_posting']} newly posting.",
            highlight=False,
            emoji=False,
        )
    for change in changes:
        out.print(f"  {change.describe()}", highlight=False, markup=False, emoji=False)
    out.print(
        f"Flow {flow} runs mapping {done.promotion.version} from now on (written by "
        f"{done.author}, approved by {who.actor}; was {done.promotion.previous or 'none'}).",
        highlight=False,
        emoji=False,
    )


@mapping_app.command("rollback")
def rollback_cmd(
    flow: FlowArg,
    to: Annotated[
        str | None, typer.Option(help="A version promoted before (default: the previous one).")
    ] = None,
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Run the previously promoted version again (later records post with its rules)."""
    with _flow(workspace, flow, as_json) as (ws, store, ref):
        who = acting(ws, store, "rollback", flows=[flow], as_json=as_json)
        target = resolve_version(store, ref, to) if to else None
        row = rollback(store, ref, who=who, to=target)
        load_version(store, ref, row.version)
    if as_json:
        emit({"flow": flow, "promoted": row.version, "previous": row.previous or None,
              "actor": who.actor})  # fmt: skip
        return
    out.print(
        f"Flow {flow} runs mapping {row.version} again (rolled back from {row.previous} "
        f"by {who.actor}); records already posted keep their entries.",
        highlight=False,
        emoji=False,
    )
