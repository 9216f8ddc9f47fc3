"""The audit chain's anchor: a cut or a rewrite of the chain is found (issue 13, #10).

The attacker has the database: they delete the chain's last rows, or edit a row and
recompute every hash after it so the chain verifies on its own, or also rewrite the
anchor file. Each is done with raw SQL around the store (the append-only triggers
dropped), on both state stores; `billbridge audit --verify` is the real CLI.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from psycopg import sql

from billbridge.store import Store, audit_chain, open_store
from billbridge.store._postgres import PostgresStore, split_schema
from billbridge.store._sqlite import SQLiteStore
from billbridge.store.base import AuditEvent, AuditHead

from .conftest import Workspace, make_workspace

KEY = "anchor-key-kept-apart-1"


@pytest.fixture
def ws(tmp_path: Path, state_url: str) -> Workspace:
    return make_workspace(tmp_path / "ws", state_url, invoices=12)


def _anchors(ws: Workspace) -> list[dict[str, Any]]:
    path = ws.root / ".billbridge" / "audit-anchors"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@contextmanager
def _store(ws: Workspace) -> Iterator[Store]:
    store = open_store(ws.state_url)
    try:
        yield store
    finally:
        store.close()


def _head(ws: Workspace) -> AuditHead:
    with _store(ws) as store:
        head = store.audit_head()
    assert head is not None
    return head


@contextmanager
def _raw(ws: Workspace) -> Iterator[Any]:
    """A driver connection around the store, with the audit table's triggers off."""
    with _store(ws) as store:
        if isinstance(store, SQLiteStore):
            conn = sqlite3.connect(store.path, isolation_level=None)
            try:
                conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
                conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
                yield conn
            finally:
                conn.close()
            return
        assert isinstance(store, PostgresStore)
        conninfo, schema = split_schema(store.url)
    with psycopg.connect(conninfo, autocommit=True) as pg:
        pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema or "public")))
        pg.execute("ALTER TABLE audit DISABLE TRIGGER ALL")
        yield pg


def _rewrite(ws: Workspace, *, start: int) -> None:
    """Edit row `start` and recompute every hash from it on: the chain alone verifies."""
    with _store(ws) as store:
        rows = store.audit_rows()
    placeholder = "?" if ws.state_url.startswith("sqlite") else "%s"
    update = (
        f"UPDATE audit SET actor = {placeholder}, prev_hash = {placeholder}, "
        f"hash = {placeholder} WHERE seq = {placeholder}"
    )
    prev = rows[start - 2].hash if start > 1 else audit_chain.GENESIS
    changed = []
    for row in rows[start - 1 :]:
        actor = "mallory" if row.seq == start else row.actor
        new = replace(row, actor=actor, prev_hash=prev)
        new = replace(new, hash=audit_chain.row_hash(new))
        changed.append((new.actor, new.prev_hash, new.hash, new.seq))
        prev = new.hash
    with _raw(ws) as conn:
        if isinstance(conn, sqlite3.Connection):
            conn.executemany(update, changed)
        else:
            with conn.cursor() as cur:
                cur.executemany(update, changed)
    with _store(ws) as store:
        assert store.verify_audit().ok  # consistent: only an anchor can tell


def test_every_run_anchors_the_head_and_verify_agrees(ws: Workspace) -> None:
    assert ws.cli("sync")[0] == 1  # the export's deliberate faults
    head = _head(ws)
    (line,) = _anchors(ws)
    assert (line["seq"], line["hash"]) == (head.seq, head.hash)
    assert "mac" not in line
    code, verdict = ws.cli("audit", "--verify")
    assert code == 0, verdict
    assert verdict["ok"] and verdict["anchor"]["seq"] == head.seq
    ws.cli("queue")
    ws.cli("audit", "--verify")
    assert len(_anchors(ws)) == 1  # reading changes nothing, so writes no anchor
    with _store(ws) as store:
        store.append_audit(AuditEvent(actor="tester", action="config"))
    code, anchored = ws.cli("audit", "anchor")
    assert (code, anchored["written"], anchored["seq"]) == (0, True, head.seq + 1)
    assert ws.cli("audit", "anchor")[1]["written"] is False  # already anchored
    code, report = ws.cli("report", "daily")
    assert report["audit_anchor"] == {"seq": head.seq + 1, "hash": _head(ws).hash}


def test_deleting_the_last_rows_is_found(ws: Workspace) -> None:
    ws.cli("sync")
    last = _head(ws).seq
    with _raw(ws) as conn:
        conn.execute(f"DELETE FROM audit WHERE seq > {last - 3}")
    with _store(ws) as store:
        assert store.verify_audit().ok  # what is left is a valid chain on its own
    code, verdict = ws.cli("audit", "--verify")
    assert code == 1
    assert verdict["ok"] is False and verdict["missing"] == [last - 2, last]
    assert f"rows {last - 2}-{last} are missing" in verdict["problems"][0]
    done = ws.subprocess("audit", "--verify")
    assert done.returncode == 1
    assert f"rows {last - 2}-{last} are missing" in " ".join(done.stdout.split())
    code, refused = ws.cli("audit", "anchor")  # a cut chain is not blessed with an anchor
    assert code == 1 and "does not verify" in refused["error"]


def test_a_consistent_rewrite_is_found_between_the_anchors_it_breaks(ws: Workspace) -> None:
    ws.cli("sync")
    first = _head(ws).seq
    with _store(ws) as store:
        store.append_audit(AuditEvent(actor="tester", action="config"))
        store.append_audit(AuditEvent(actor="tester", action="config"))
    assert ws.cli("audit", "anchor")[0] == 0
    _rewrite(ws, start=first + 1)
    code, verdict = ws.cli("audit", "--verify")
    assert code == 1
    assert verdict["rewritten"] == [first + 1, first + 2]
    assert f"row {first + 2} differs from its anchor" in verdict["problems"][0]

    _rewrite(ws, start=1)  # the whole chain, from its first row
    assert ws.cli("audit", "--verify")[1]["rewritten"] == [1, first]


def test_with_a_key_a_forged_anchor_file_is_found(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLBRIDGE_ANCHOR_KEY", KEY)
    ws.cli("sync")
    assert all(len(line["mac"]) == 64 for line in _anchors(ws))
    assert ws.cli("audit", "--verify")[0] == 0

    _rewrite(ws, start=1)
    head = _head(ws)
    path = ws.root / ".billbridge" / "audit-anchors"
    # the attacker rewrites the witness too: unsigned (no key), or signed with a guess
    forged = {"seq": head.seq, "hash": head.hash, "at": "2026-01-01T00:00:00+00:00"}
    path.write_bytes(orjson.dumps(forged) + b"\n" + orjson.dumps({**forged, "mac": "0" * 64}))
    code, verdict = ws.cli("audit", "--verify")
    assert code == 1
    assert any(
        "audit-anchors:1: anchor of seq" in p and "not signed" in p for p in verdict["problems"]
    )
    assert any("audit-anchors:2:" in p and "does not match" in p for p in verdict["problems"])

    monkeypatch.delenv("BILLBRIDGE_ANCHOR_KEY")  # without the key, the forgery would pass
    assert ws.cli("audit", "--verify")[0] == 0


def test_the_anchor_file_can_live_elsewhere(ws: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "witness" / "anchors.jsonl"
    config = ws.root / "billbridge.yaml"
    config.write_text(config.read_text() + f"audit:\n  anchors: {elsewhere}\n")
    ws.cli("sync")
    (line,) = [orjson.loads(x) for x in elsewhere.read_bytes().splitlines()]
    assert line["seq"] == _head(ws).seq
    assert _anchors(ws) == []
