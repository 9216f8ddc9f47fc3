"""Benchmark: a whole backfill (normalize, map, post, audit, checkpoint) on the SQLite store.

Run by hand, not by the test suite:

    .venv/bin/python bench/backfill.py --records 100000
    .venv/bin/python bench/backfill.py --records 1000000
    .venv/bin/python bench/backfill.py --records 100000 --store postgres

It generates a synthetic Stripe export (current API shape, no faults) once per size
under bench/out/, builds a fresh workspace, then runs `billbridge sync --backfill` in a
child process and reports records/s and the child's peak resident memory (ru_maxrss),
so the export generation is not counted in either figure.
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
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
RECORDS_PER_INVOICE = 4.14  # what samples.generate yields on average (customers included)
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def export_for(records: int) -> Path:
    from billbridge.samples import generate, write_jsonl

    path = OUT / f"stripe-{records}.jsonl"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        invoices = int(records / RECORDS_PER_INVOICE)
        tmp = path.with_suffix(".tmp")
        write_jsonl(tmp, generate(invoices=invoices, seed=1, api="current"))
        tmp.rename(path)
    return path


def workspace_for(export: Path) -> Path:
    from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES
    from billbridge.workspace_files import create_workspace

    ws = OUT / f"ws-{export.stem}"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    export = export_for(args.records)
    lines = sum(1 for _ in export.open("rb"))
    ws = workspace_for(export)
    command = [sys.executable, "-m", "billbridge", "sync", "--backfill", "-w", str(ws), "--json"]
    if args.store == "postgres":
        with postgres_state() as url:
            env = {**os.environ, "BILLBRIDGE_STATE": url}
            started = time.perf_counter()
            proc = subprocess.run(command, capture_output=True, check=False, env=env)
            elapsed = time.perf_counter() - started
    else:
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, check=False)
        elapsed = time.perf_counter() - started
    report(args.store, command, export, lines, proc, elapsed)


def report(
    store: str,
    command: list[str],
    export: Path,
    lines: int,
    proc: subprocess.CompletedProcess[bytes],
    elapsed: float,
) -> None:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    result = orjson.loads(proc.stdout)
    counts = result["counts"]
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"command: {' '.join(command[1:])} (state store: {store})")
    print(
        f"records: {lines:,} (export {export.stat().st_size / 1e6:,.0f} MB), "
        f"counts {counts}, entries posted {result['posted']:,}, exit {proc.returncode}"
    )
    print(f"elapsed: {elapsed:,.1f} s  ->  {lines / elapsed:,.0f} records/s")
    print(
        f"CPU of the sync process: {cpu:,.1f} s ({cpu / lines * 1e6:,.0f} µs per record); "
        f"waiting: {max(elapsed - cpu, 0):,.1f} s"
    )
    print(f"peak RSS of the sync process: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
