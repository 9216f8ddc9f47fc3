"""`billbridge approve KEY` and `billbridge reject KEY --reason R`: records an approval rule holds.

Thin shells over engine/approval_decisions.py (the API and the web UI call the same
`decide`): approving runs the record on through the pipeline, where it posts; rejecting
fails it with the reason, in the queue. Both are audited with the acting user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billbridge.engine.approval_decisions import ApprovalRefusedError, awaiting_approval, decide
from billbridge.wiring import flows as flow_runtimes

from ._common import JsonOpt, WorkspaceOpt, acting, app, emit, fail, opened, out
from ._show import print_run

KeyArg = Annotated[str, typer.Argument(help="The held record, e.g. stripe:credit_note:cn_123.")]


def _decide(workspace: Path, key: str, *, approve: bool, reason: str, as_json: bool) -> None:
    with opened(workspace, as_json) as (ws, store):
        held = next((r for r in awaiting_approval(store) if r.record_key == key), None)
        flows = [held.flow] if held is not None else None
        who = acting(ws, store, "approve" if approve else "reject", flows=flows, as_json=as_json)
        try:
            with flow_runtimes(ws, store=store, actor=who.actor) as lookup:
                decision, result = decide(
                    store, lookup, key, who=who, approve=approve, reason=reason
                )
        except ApprovalRefusedError as exc:
            fail(str(exc), as_json=as_json)
        row = next((r for r in store.exceptions_for(key) if r.status == "open"), None)
    if as_json:
        emit({"record": key, "decision": decision.decision, "rule": decision.rule,
              "actor": decision.actor, "reason": decision.reason or None,
              "run": result.as_json(),
              "queue": None if row is None else {"id": row.id, "kind": row.kind,
                                                 "error": row.error}})  # fmt: skip
        return
    out.print(f"{key}: {decision.decision} by {decision.actor} (rule {decision.rule})",
              highlight=False, emoji=False)  # fmt: skip
    print_run(result)
    if row is not None:
        out.print(
            f"queue #{row.id} ({row.kind}): {row.error}", highlight=False, markup=False, emoji=False
        )


@app.command("approve")
def approve_cmd(key: KeyArg, workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Approve a record an approval rule holds: it goes on and posts."""
    _decide(workspace, key, approve=True, reason="", as_json=as_json)


@app.command("reject")
def reject_cmd(
    key: KeyArg,
    reason: Annotated[str, typer.Option(help="Why (kept in the queue row and the audit log).")],
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Reject a record an approval rule holds: it fails, queued with the reason."""
    _decide(workspace, key, approve=False, reason=reason, as_json=as_json)
