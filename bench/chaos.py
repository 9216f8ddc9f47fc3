"""Chaos benchmark: a backfill killed with SIGKILL at random moments, resumed each time.

Run by hand, not by the test suite:

    .venv/bin/python bench/chaos.py --records 100000 --kills 50 --store sqlite
    .venv/bin/python bench/chaos.py --records 100000 --kills 20 --store postgres

It generates (once) the synthetic export of bench/backfill.py, syncs it in one clean
workspace with no kill, then backfills it in a second workspace (state in SQLite, or in a
fresh PostgreSQL schema) where each `billbridge sync --backfill` child is killed at a
random moment and the next one resumes; a last resume runs to the end. It then reads both
ledgers back with Beancount's parser and reports what was lost (a key the clean run
posted and this one did not), duplicated (a key posted more than once), extra, and every
(account, currency) whose total differs, and compares the exception queues.

A kill counts only when it lands inside the run: the child must have written to the
ledger since it started (it is past start-up and recovery) and still be running when the
signal is sent. Each kill is listed with where it landed: seconds into the run, the bytes
this run had appended to the ledger, and the committed backfill cursor (bytes of the
export) before the run and after the kill. To spread the kills over the whole backfill,
each one waits a random time within an even share of the time the rest should take, at
the throughput measured so far.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill import OUT, export_for  # bench/ is not a package

FLOW = "stripe-to-books"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Kill:
    n: int
    seconds: float  # into the run when the signal was sent
    appended: int  # bytes this run had appended to the ledger by then
    cursor_before: int  # committed backfill cursor (export bytes) when the run started
    cursor_after: int  # committed backfill cursor after the kill
    wait: float  # the random wait chosen after the run began writing


def workspace(name: str, export: Path) -> Path:
    from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES
    from billbridge.workspace_files import create_workspace

    ws = OUT / f"chaos-{name}"
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


def command(ws: Path) -> list[str]:
    return [sys.executable, "-m", "billbridge", "sync", "--backfill", "-w", str(ws), "--json"]


def env_for(state_url: str) -> dict[str, str]:
    return {**os.environ, "BILLBRIDGE_STATE": state_url, "BILLBRIDGE_ACTOR": "chaos"}


def cursor(state_url: str) -> int:
    """The committed backfill cursor: export bytes read by committed batches."""
    from billbridge.store import open_store

    store = open_store(state_url)
    try:
        row = store.get_cursor(FLOW, "backfill")
        return int(row.value) if row and row.value else 0
    finally:
        store.close()


def entries_size(ws: Path) -> int:
    path = ws / "books" / "billbridge.beancount"
    return path.stat().st_size if path.exists() else 0


def queue(ws: Path, state_url: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "billbridge", "queue", "-w", str(ws), "--json"],
        env=env_for(state_url),
        capture_output=True,
        check=True,
    )
    return {item["record"] for item in orjson.loads(done.stdout)}


def ledger(ws: Path) -> tuple[Counter[str], dict[tuple[str, str], Decimal]]:
    from billbridge.connectors.beancount import balances, posted_keys

    main = ws / "books" / "main.beancount"
    return posted_keys(main), {k: v for k, v in balances(main).items() if v}


def chaos(ws: Path, state_url: str, kills: int, rng: random.Random, size: int) -> list[Kill]:
    landed: list[Kill] = []
    rate = 0.0  # export bytes committed per second of run, measured as we go
    attempts = 0
    while len(landed) < kills and attempts < kills * 4:
        attempts += 1
        before, start_size = cursor(state_url), entries_size(ws)
        started = time.monotonic()
        child = subprocess.Popen(
            command(ws), env=env_for(state_url), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        while child.poll() is None and entries_size(ws) <= start_size:
            time.sleep(0.005)  # start-up and recovery: wait until this run writes
        if child.poll() is not None:
            print(f"  run ended before writing (exit {child.returncode}): nothing left to kill")
            break
        writing = time.monotonic()
        left = kills - len(landed)
        share = ((size - before) / rate / (left + 1)) if rate else 1.0
        wait = rng.uniform(0.0, 2 * share)
        time.sleep(wait)
        appended = entries_size(ws) - start_size
        if child.poll() is not None:
            print(f"  run ended after {time.monotonic() - started:.1f} s, before the kill")
            break
        child.send_signal(signal.SIGKILL)
        seconds = time.monotonic() - started
        child.wait()
        after = cursor(state_url)
        if after > before:
            rate = (after - before) / max(time.monotonic() - writing, 0.1)
        landed.append(Kill(len(landed) + 1, seconds, appended, before, after, wait))
        k = landed[-1]
        print(
            f"  kill {k.n:>2}: {k.seconds:5.2f} s into the run, +{k.appended:>9,} ledger bytes, "
            f"cursor {k.cursor_before / size:6.1%} -> {k.cursor_after / size:6.1%}",
            flush=True,
        )
    return landed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    export = export_for(args.records)
    size = export.stat().st_size
    lines = sum(1 for _ in export.open("rb"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"command: bench/chaos.py --records {args.records} --kills {args.kills} "
          f"--store {args.store} --seed {args.seed}")  # fmt: skip
    print(f"export: {lines:,} records, {size / 1e6:,.0f} MB")

    clean = workspace("clean", export)
    clean_url = f"sqlite:///{clean / '.billbridge' / 'state.db'}"
    started = time.perf_counter()
    subprocess.run(command(clean), env=env_for(clean_url), capture_output=True, check=False)
    print(f"clean backfill: {time.perf_counter() - started:,.1f} s")

    killed = workspace(args.store, export)
    schema = ""
    if args.store == "postgres":
        import psycopg

        schema = f"chaos_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        state_url = f"{PG_SERVER}?schema={schema}"
    else:
        state_url = f"sqlite:///{killed / '.billbridge' / 'state.db'}"
    try:
        started = time.perf_counter()
        landed = chaos(killed, state_url, args.kills, rng, size)
        final = subprocess.run(
            command(killed), env=env_for(state_url), capture_output=True, check=False
        )
        took = time.perf_counter() - started
        print(f"killed backfill: {len(landed)} kills landed inside runs, then a last resume "
              f"(exit {final.returncode}); {took:,.1f} s in all")  # fmt: skip
        report(clean, clean_url, killed, state_url, landed)
    finally:
        if schema:
            import psycopg

            with psycopg.connect(PG_SERVER, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def report(clean: Path, clean_url: str, killed: Path, state_url: str, landed: list[Kill]) -> None:
    want_keys, want_totals = ledger(clean)
    got_keys, got_totals = ledger(killed)
    lost = set(want_keys) - set(got_keys)
    extra = set(got_keys) - set(want_keys)
    duplicated = {k: n for k, n in got_keys.items() if n > 1}
    differing = {
        k: (want_totals.get(k, Decimal(0)), got_totals.get(k, Decimal(0)))
        for k in set(want_totals) | set(got_totals)
        if want_totals.get(k, Decimal(0)) != got_totals.get(k, Decimal(0))
    }
    queue_clean, queue_killed = queue(clean, clean_url), queue(killed, state_url)
    spread = sorted(k.cursor_after for k in landed)
    print(f"kills inside runs: {len(landed)}; seconds into the run "
          f"{min((k.seconds for k in landed), default=0):.2f}-"
          f"{max((k.seconds for k in landed), default=0):.2f}; ledger bytes appended by the "
          f"killed run {min((k.appended for k in landed), default=0):,}-"
          f"{max((k.appended for k in landed), default=0):,}")  # fmt: skip
    if spread:
        print(f"committed cursor after the kills: {spread[0]:,} .. {spread[-1]:,} bytes")
    print(f"entries: clean {sum(want_keys.values()):,}, killed {sum(got_keys.values()):,}")
    print(f"lost: {len(lost)}   duplicated: {len(duplicated)}   extra: {len(extra)}")
    print(f"accounts x currencies: {len(want_totals)}; totals differing: {len(differing)}")
    print(f"queue: clean {len(queue_clean)}, killed {len(queue_killed)}, "
          f"same: {queue_clean == queue_killed}")  # fmt: skip
    for key in sorted(lost)[:10]:
        print(f"  lost {key}")
    for key, n in sorted(duplicated.items())[:10]:
        print(f"  duplicated {key} x{n}")
    for (account, currency), (want, got) in sorted(differing.items())[:10]:
        print(f"  total {account} {currency}: clean {want}, killed {got}")


if __name__ == "__main__":
    main()
