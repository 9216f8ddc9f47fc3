"""Benchmark: the same backfill posted to each ledger target (Beancount, GnuCash, SQL GL).

Run by hand, not by the test suite:

    .venv/bin/python bench/ledger_targets.py --records 20000

Reuses backfill.py's export and workspace, rewrites the `books` connection for each
target, runs `billbridge sync --backfill` in a child process and reports records/s,
peak memory and `billbridge books check` time.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import orjson
from backfill import PG_SERVER, export_for, workspace_for

TARGETS = {
    "beancount": "    connector: beancount\n    path: books/main.beancount",
    "gnucash": "    connector: gnucash\n    path: books/main.gnucash\n    currency: EUR",
    "sqlgl-sqlite": "    connector: sqlgl\n    url: sqlite:///books/ledger.db",
    "sqlgl-postgres": "    connector: sqlgl\n    url: postgresql://postgres@127.0.0.1:5432/test?schema={schema}",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args()
    export = export_for(args.records)
    lines = sum(1 for _ in export.open("rb"))
    print(f"records: {lines:,} (export {export.stat().st_size / 1e6:,.1f} MB)")
    for name in args.targets.split(","):
        ws = workspace_for(export)
        config = ws / "billbridge.yaml"
        schema = f"bench_{int(time.time())}"
        connection = TARGETS[name].format(schema=schema)
        config.write_text(config.read_text().replace(TARGETS["beancount"], connection))
        base = [sys.executable, "-m", "billbridge"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(
            [*base, "sync", "--backfill", "-w", str(ws), "--json"], capture_output=True, check=False
        )
        elapsed = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
        peak_mb = usage.ru_maxrss / 1024
        result = orjson.loads(proc.stdout)
        started = time.perf_counter()
        check = subprocess.run(
            [*base, "books", "check", "-w", str(ws), "--json"], capture_output=True, check=False
        )
        check_s = time.perf_counter() - started
        print(
            f"{name:15} posted {result['posted']:,} entries in {elapsed:,.1f} s -> "
            f"{lines / elapsed:,.0f} records/s (sync CPU {cpu:,.1f} s, "
            f"{cpu / lines * 1e6:,.0f} µs per record); peak RSS so far {peak_mb:,.0f} MB; "
            f"books check {check_s:,.1f} s, exit {check.returncode}"
        )
        if "{schema}" in TARGETS[name]:
            drop_schema(schema)


def drop_schema(schema: str) -> None:
    """The PostgreSQL ledger of one run goes when it has been measured."""
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
