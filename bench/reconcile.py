"""Benchmark: `billbridge reconcile` over a synced workspace (source, store and ledger re-read).

Run by hand, not by the test suite:

    .venv/bin/python bench/backfill.py --records 100000    # builds and syncs the workspace
    .venv/bin/python bench/reconcile.py --records 100000

It reconciles the workspace `bench/backfill.py --records N` left in bench/out/ (the
same generated export, synced; built here first when it is missing), timing
`reconcile --json` in a child process and reporting records/s, the child's own peak
resident memory (max RSS, from wait4), its CPU time (user + system: the figure to
compare on a shared, loaded machine) and the discrepancies found (none are expected
on a clean sync). `--runs` repeats it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backfill import export_for, workspace_for


def _workspace(records: int) -> Path:
    export = export_for(records)
    ws = export.parent / f"ws-{export.stem}"
    if not (ws / ".billbridge" / "state.db").exists():
        ws = workspace_for(export)
        command = [sys.executable, "-m", "billbridge", "sync", "--backfill", "-w", str(ws)]
        subprocess.run([*command, "--json"], check=True, capture_output=True)
    return ws


def _run(command: list[str]) -> tuple[float, float, float, bytes, int]:
    """Seconds, CPU seconds, the child's own max RSS in MB, its stdout, its exit code."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bb-reconcile-{os.getpid()}.json"
    with out.open("wb") as handle:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=handle, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stdout = out.read_bytes()
    out.unlink()
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, stdout, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    ws = _workspace(args.records)
    export = ws / "exports" / "stripe.jsonl"
    lines = sum(1 for _ in export.open("rb"))
    command = [sys.executable, "-m", "billbridge", "reconcile", "-w", str(ws), "--json"]
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"command: {' '.join(command[1:])}")
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for _ in range(args.runs):
        seconds, cpu, peak_mb, stdout, code = _run(command)
        counts = orjson.loads(stdout).get("counts", {}) if stdout else {}
        print(
            f"reconcile: {lines:,} source records in {seconds:,.1f} s "
            f"({lines / seconds:,.0f} records/s), CPU {cpu:,.1f} s "
            f"({cpu / lines * 1e6:,.0f} µs/record), exit {code}, discrepancies {counts}, "
            f"peak RSS {peak_mb:,.0f} MB ({peak_mb * 1024 * 1024 / lines:,.0f} bytes/record)"
        )


if __name__ == "__main__":
    main()
