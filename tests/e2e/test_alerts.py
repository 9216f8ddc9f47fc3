"""Alerts delivered to real servers on loopback: an aiosmtpd SMTP server and an HTTP receiver.

Each incident must arrive exactly once on each channel while it lasts, and one
"resolved" message must follow when its condition clears, across sync, reconcile and
`billbridge alerts check`. A receiver that is down must not lose the alert.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.store import open_store

from .alert_receiver import AlertReceiver, seen
from .conftest import Workspace

FLOW = "stripe-to-books"


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Mailbox]]:
    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


def _configure(ws: Workspace, webhook_port: int, smtp_port: int) -> None:
    config = ws.root / "billbridge.yaml"
    config.write_text(
        config.read_text()
        + f"""
alerts:
  webhook: http://127.0.0.1:{webhook_port}/hooks/billbridge
  smtp:
    host: 127.0.0.1
    port: {smtp_port}
    from: billbridge@example.test
    to: [finance@example.test]
  rules:
    queue_older_than_hours: 0
    failure_rate_percent: 0.1
    duplicate_posting: true
"""
    )


def _check(ws: Workspace) -> tuple[int, Any]:
    """`billbridge -w ROOT alerts check --json` (a sub-command takes -w before its group)."""
    result = CliRunner().invoke(
        app, ["-w", str(ws.root), "alerts", "check", "--json"], env=ws.env()
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, orjson.loads(result.stdout)


@pytest.mark.slow
def test_each_incident_alerts_once_then_resolves_once(
    workspace: Workspace, smtp: tuple[int, _Mailbox]
) -> None:
    ws = workspace
    smtp_port, mailbox = smtp
    with AlertReceiver() as hook:
        _configure(ws, hook.port, smtp_port)
        assert ws.cli("sync")[0] == 1
        firing = [("firing", "queue_older_than_hours"), ("firing", "failure_rate_percent")]
        assert sorted(seen(hook.bodies)) == sorted(firing)
        assert {b["subject"] for b in hook.bodies} == {FLOW}
        assert len(mailbox.messages) == 2
        subjects = sorted(m["Subject"] for m in mailbox.messages)
        assert subjects == sorted(f"[billbridge] FIRING: {rule} {FLOW}" for _, rule in firing)
        assert mailbox.messages[0]["To"] == "finance@example.test"
        store = open_store(ws.state_url)
        try:  # every alert is also a witness of the audit chain's head (issue 13, #10)
            head = store.audit_head()
        finally:
            store.close()
        assert head is not None
        anchor = {"seq": head.seq, "hash": head.hash}
        assert [b["audit_anchor"] for b in hook.bodies] == [anchor, anchor]
        body = mailbox.messages[0].get_payload(decode=True).decode()
        assert f"audit_anchor: seq {head.seq}, hash {head.hash}" in body

        code, report = _check(ws)
        assert code == 0, report
        assert report["fired"] == report["resolved"] == []
        assert len(report["open"]) == 2
        assert len(hook.bodies) == len(mailbox.messages) == 2  # once per incident

        entries = ws.entries_file.read_text()
        with ws.ledger.open("a") as main:
            main.write("\n" + entries[: entries.index("\n\n") + 2])
        assert ws.cli("reconcile")[0] == 1
        assert seen(hook.bodies)[2:] == [("firing", "duplicate_posting")]
        assert hook.bodies[2]["subject"].endswith("|issue")
        assert ws.cli("reconcile")[0] == 1  # still there: no second message
        assert len(hook.bodies) == 3

        code, fixed = ws.cli("reconcile", "--fix")
        assert code == 0, fixed
        assert seen(hook.bodies)[3:] == [("resolved", "duplicate_posting")]
        assert hook.bodies[3]["resolved_at"] is not None

        # Nothing failed in this run, so the rate clears; the exit code is still 1: the
        # earlier faults wait in the queue for a person.
        assert ws.cli("sync")[0] == 1
        assert seen(hook.bodies)[4:] == [("resolved", "failure_rate_percent")]

        store = open_store(ws.state_url)
        try:
            for row in store.open_exceptions(flow=FLOW):
                store.dismiss_exception(row.id, actor="tester", reason="handled by hand")
        finally:
            store.close()
        code, report = _check(ws)
        assert report["resolved"] == [f"queue_older_than_hours: {FLOW}"]
        assert seen(hook.bodies)[5:] == [("resolved", "queue_older_than_hours")]
        assert len(mailbox.messages) == 6
        assert _check(ws)[1] == {"fired": [], "resolved": [], "open": [], "failed": []}


def test_an_alert_that_cannot_be_delivered_is_sent_at_the_next_check(
    workspace: Workspace, smtp: tuple[int, _Mailbox]
) -> None:
    ws = workspace
    smtp_port, mailbox = smtp
    down = _free_port()  # nothing listens here
    _configure(ws, down, smtp_port)
    assert ws.cli("sync")[0] == 1  # the alert failure does not change the sync's exit code
    code, report = _check(ws)
    assert code == 1
    assert report["fired"] == []
    assert report["failed"] and all("webhook" in f for f in report["failed"])
    assert f"127.0.0.1:{down}/hooks" not in " ".join(report["failed"])  # the URL is a secret
    with AlertReceiver() as hook:
        _configure_port = ws.root / "billbridge.yaml"
        _configure_port.write_text(
            _configure_port.read_text().replace(f"127.0.0.1:{down}/", f"127.0.0.1:{hook.port}/")
        )
        code, report = _check(ws)
        assert code == 0
        assert sorted(seen(hook.bodies)) == sorted(
            [("firing", "queue_older_than_hours"), ("firing", "failure_rate_percent")]
        )
        assert _check(ws)[1]["fired"] == []
    assert mailbox.messages  # mail went out each time the webhook failed: at least once
