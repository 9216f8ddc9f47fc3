"""A quick throughput check of `Store.commit` (a script, not a timed test).

Run: .venv/bin/python tests/integration/store/throughput.py [records] [batch]
Each record is what a sync typically commits: 1 record upsert, 1 posting, 1 outcome
and 1 audit row. Prints records/s for SQLite (a file in tmp) and PostgreSQL (a
throwaway schema, skipped if the server is unreachable).
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from billbridge.store import (
    AuditEvent,
    Batch,
    OutcomeRow,
    PostingRow,
    RecordRow,
    Store,
    StoreError,
    open_store,
)

PG = "postgresql://postgres@127.0.0.1:5432/test"


def batch(run_id: int, start: int, size: int) -> Batch:
    now = datetime.now(UTC)
    out = Batch()
    for n in range(start, start + size):
        key = f"stripe:invoice:in_{n}"
        out.records.append(
            RecordRow(key=key, connection="stripe", object="invoice", source_id=f"in_{n}",
                      version=f"v{n}", snapshot=b'{"id":"in_%d","total":11900}' % n, seen_at=now)
        )  # fmt: skip
        out.postings.append(
            PostingRow(flow="invoices", record_key=key, facet="issue",
                       idempotency_key=f"invoices:in_{n}:issue", version=f"v{n}",
                       entry_hash="e" * 16, target="books", target_ref=f"books.beancount:{n}",
                       run_id=run_id, posted_at=now, summary=f"Invoice HB-{n} — Globex",
                       link=f"in_{n}")
        )  # fmt: skip
        out.outcomes.append(
            OutcomeRow(run_id=run_id, flow="invoices", record_key=key, version=f"v{n}",
                       outcome="synced", at=now)
        )  # fmt: skip
        out.audit.append(
            AuditEvent(actor="system", action="posted", record_key=key, run_id=run_id,
                       mapping_version="m1", at=now,
                       diff={"postings": [None, ["issue"]], "version": [None, f"v{n}"]})
        )  # fmt: skip
    return out


def measure(store: Store, total: int, size: int) -> float:
    run = store.start_run(flow="invoices", kind="backfill", actor="bench")
    batches = [batch(run.id, start, size) for start in range(0, total, size)]
    began = time.perf_counter()
    for one in batches:
        store.commit(one)
    elapsed = time.perf_counter() - began
    assert store.verify_audit().ok
    return total / elapsed


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "state.db")
        print(f"sqlite:   {measure(store, total, size):>9,.0f} records/s (batches of {size})")
        store.close()
    schema = f"bb_bench_{uuid.uuid4().hex[:8]}"
    try:
        store = open_store(f"{PG}?schema={schema}")
    except StoreError as exc:  # a missing server only skips this line
        print(f"postgres: skipped ({exc})")
        return
    try:
        print(f"postgres: {measure(store, total, size):>9,.0f} records/s (batches of {size})")
    finally:
        store.close()
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
