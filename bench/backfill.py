"""Benchmark: a whole backfill (normalize, map, post, audit, checkpoint) on the SQLite store.

Run by hand, not by the test suite:

    .venv/bin/python bench/backfill.py --records 100000
    .venv/bin/python bench/backfill.py --records 1000000 --second
    .venv/bin/python bench/backfill.py --records 100000 --ids sequential
    .venv/bin/python bench/backfill.py --records 100000 --store postgres

It generates a synthetic Stripe export (current API shape, no faults) once per size and
id kind under bench/out/, builds a fresh workspace, then runs `billbridge sync
--backfill` in a child process, so the export generation is not counted. It reports
records/s, the child's CPU time per record (user + system), the bytes it wrote to disk
per record (`ru_oublock`, which Linux fills from the task's `write_bytes`), the state
database's and the ledger's size per million records, and the child's peak resident
memory (`ru_maxrss`). `--second` then times a second sync over the unchanged export.

Ids are random like Stripe's (`in_1Nq3…`) by default: with sequential ids every index
insert lands at the end of its B-tree, which hides how the store grows in real use.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from billbridge.samples import Ids

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
RECORDS_PER_INVOICE = 4.14  # what samples.generate yields on average (customers included)
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def export_for(records: int, ids: Ids = "random") -> Path:
    from billbridge.samples import generate, write_jsonl

    suffix = "" if ids == "sequential" else f"-{ids}"  # the older exports keep their name
    path = OUT / f"stripe-{records}{suffix}.jsonl"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        invoices = int(records / RECORDS_PER_INVOICE)
        tmp = path.with_suffix(".tmp")
        write_jsonl(tmp, generate(invoices=invoices, seed=1, api="current", ids=ids))
        tmp.rename(path)
    return path


def workspace_for(export: Path, tag: str = "") -> Path:
    from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES
    from billbridge.workspace_files import create_workspace

    ws = OUT / f"ws-{export.stem}{tag}"
    shutil.rmtree(ws, ignore_errors=True)
    products = {
        p: "Income:Sales:" + p.removeprefix("prod_").title().replace("_", "-")
        for p in SAMPLE_PRODUCTS
    }
    rates = {
        r: "Liabilities:Tax:" + r.removeprefix("txr_").upper().replace("_", "-")
        for r in SAMPLE_TAX_RATES
    }
    create_workspace(ws, products=products, tax_rates=rates, timezone="Europe/Berlin")
    (ws / "exports" / "stripe.jsonl").symlink_to(export)
    return ws


@dataclass(frozen=True)
class Timed:
    """One child run: its answer and what it cost."""

    result: dict[str, object]
    exit_code: int
    elapsed: float
    cpu: float  # user + system seconds
    written: int  # bytes written to disk
    peak_mb: float


@contextmanager
def postgres_state() -> Iterator[str]:
    """A fresh schema on the local PostgreSQL server for one run, dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_SERVER}?schema={schema}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def timed_sync(ws: Path, *, backfill: bool, state: str = "") -> Timed:
    """Run `billbridge sync` in a child process; its own CPU, writes and peak memory."""
    command = [sys.executable, "-m", "billbridge", "sync", "-w", str(ws), "--json"]
    if backfill:
        command.insert(4, "--backfill")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {**os.environ, "BILLBRIDGE_STATE": state} if state else None
    proc = subprocess.run(command, capture_output=True, check=False, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    written = (after.ru_oublock - before.ru_oublock) * 512
    if not proc.stdout:
        raise SystemExit(f"the sync failed:\n{proc.stderr.decode()[-3000:]}")
    return Timed(
        result=orjson.loads(proc.stdout),
        exit_code=proc.returncode,
        elapsed=elapsed,
        cpu=cpu,
        written=written,
        peak_mb=after.ru_maxrss / 1024,  # the largest child so far
    )


def _size(path: Path) -> int:
    """A file's size with its SQLite `-wal` and `-shm` companions."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def report(label: str, run: Timed, lines: int) -> None:
    print(
        f"{label}: {run.elapsed:,.1f} s -> {lines / run.elapsed:,.0f} records/s; "
        f"CPU {run.cpu / lines * 1e6:,.1f} µs/record "
        f"(I/O and other waits {(run.elapsed - run.cpu) / lines * 1e6:,.1f} µs/record); "
        f"written {run.written / lines / 1024:,.1f} KB/record; "
        f"counts {run.result['counts']}, exit {run.exit_code}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--ids", choices=("random", "sequential"), default="random",
        help="Stripe-like random ids (the default) or the older sequential ones",
    )  # fmt: skip
    parser.add_argument("--second", action="store_true", help="also time a second sync")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--tag", default="", help="suffix of the workspace folder, for two runs side by side"
    )
    args = parser.parse_args()
    export = export_for(args.records, args.ids)
    lines = sum(1 for _ in export.open("rb"))
    ws = workspace_for(export, args.tag)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(
        f"command: bench/backfill.py --records {args.records} --ids {args.ids} --store {args.store}"
    )
    print(f"records: {lines:,} (export {export.stat().st_size / 1e6:,.0f} MB, {args.ids} ids)")
    if args.store == "postgres":
        with postgres_state() as url:
            _runs(ws, lines, second=args.second, state=url)
    else:
        _runs(ws, lines, second=args.second)


def _runs(ws: Path, lines: int, *, second: bool, state: str = "") -> None:
    first = timed_sync(ws, backfill=True, state=state)
    print(f"entries posted: {first.result['posted']:,}")
    report("backfill", first, lines)
    if not state:
        size = _size(ws / ".billbridge" / "state.db")
        print(
            f"state: {size / 1e6:,.0f} MB ({size * 1e6 / lines / 1e9:,.2f} GB per million records)"
        )
    ledger = sum(p.stat().st_size for p in (ws / "books").glob("*.beancount"))
    print(f"ledger files: {ledger / 1e6:,.0f} MB")
    print(f"peak RSS of the sync process: {first.peak_mb:,.0f} MB")
    if second:
        again = timed_sync(ws, backfill=False, state=state)
        report("second sync, unchanged export", again, lines)


if __name__ == "__main__":
    main()
