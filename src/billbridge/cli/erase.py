"""`billbridge erase SUBJECT --reason R`: GDPR erasure that keeps the books and the audit chain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billbridge.connectors.base import RetryableError
from billbridge.engine.erase import EraseError, erase_subject
from billbridge.identity import TOKEN_ENV
from billbridge.wiring import erasure_parts

from ._common import JsonOpt, WorkspaceOpt, acting, app, emit, fail, opened, out


@app.command("erase")
def erase_cmd(
    subject: Annotated[
        str, typer.Argument(help="The person's record key, e.g. crm:customer:<id>.")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (audited; name no person in it).")
    ] = "",
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Erase a person's data (names, e-mails, addresses) wherever billbridge keeps it.

    Amounts, invoice numbers, dates and tax data stay; the audit chain still verifies;
    later syncs do not bring the data back. Admins only: when the workspace has users,
    sign in as an admin (`billbridge login` or BILLBRIDGE_TOKEN).
    """
    with opened(workspace, as_json) as (ws, store):
        who = acting(ws, store, "erase", as_json=as_json)
        if not who.proven and store.list_users():  # erasure cannot be undone: no trusted names
            fail(f"erase is for admins, and this workspace has users: sign in as an admin "
                 f"(`billbridge login`, or {TOKEN_ENV}=<an admin's API token>)",
                 as_json=as_json)  # fmt: skip
        models, scrubbers, kept = erasure_parts(ws)
        try:
            done = erase_subject(store, models, subject, reason=reason, actor=who.actor,
                                 scrubbers=scrubbers, kept=kept)  # fmt: skip
        except EraseError as exc:
            fail(str(exc), as_json=as_json)
        except RetryableError as exc:
            fail(f"{exc}; nothing was erased", as_json=as_json, code=1)
    if as_json:
        emit(done.as_json())
        return
    out.print(f"Erased {done.subject} ({', '.join(done.subjects)}): {done.records} records "
              f"redacted, {sum(done.texts.values())} texts, "
              f"{sum(done.files.values())} file narrations.", highlight=False)  # fmt: skip
    for line in done.kept:
        out.print(f"  not rewritten: {line}", highlight=False, markup=False)
