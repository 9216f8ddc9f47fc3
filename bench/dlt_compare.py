"""billbridge's backfill beside dlt loading the same export into duckdb (issue 19).

Run by hand, not by the test suite:

    .venv/bin/python bench/dlt_compare.py --records 100000

Why this comparison: dlt is what a team would reach for to "just load Stripe into a
database"; merging on `id` is the nearest thing it has to billbridge's exactly-once
guarantee. Both read the same JSONL export (bench/backfill.py makes it, random
Stripe-like ids): billbridge runs `sync --backfill` (normalize, map, check, post to
Beancount, commit outcomes, audit chain), dlt runs a pipeline with one resource,
`write_disposition="merge"`, `primary_key="id"`, into a duckdb file. Each runs in its
own child process; the bench prints each one's wall time, records/s and peak resident
memory, and the ratios. dlt lives in its own virtual environment under bench/out/
(made on first use with `pip install 'dlt[duckdb]'`), so the project's own environment
never carries it.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill import OUT, export_for, timed_sync, workspace_for

DLT_VENV = OUT / "dlt-venv"

# Runs inside dlt's environment: load the export, print wall time and peak memory.
_CHILD = r"""
import json, resource, sys, time
import dlt

path, dest, pipes = sys.argv[1:4]

@dlt.resource(name="stripe", write_disposition="merge", primary_key="id")
def rows():
    with open(path, "rb") as f:
        for line in f:
            yield json.loads(line)

started = time.perf_counter()
pipeline = dlt.pipeline(pipeline_name="bench", destination=dlt.destinations.duckdb(dest),
                        dataset_name="raw", pipelines_dir=pipes)
pipeline.run(rows())
elapsed = time.perf_counter() - started
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"elapsed": elapsed, "peak_mb": peak / 1024}))
"""


def _dlt_python() -> Path:
    python = DLT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "dlt[duckdb]"], check=True)
    return python


def run_dlt(export: Path) -> dict[str, float]:
    """One dlt load of `export` into a fresh duckdb file, in a child process."""
    work = OUT / f"dlt-{export.stem}"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    proc = subprocess.run(
        [str(_dlt_python()), "-c", _CHILD, str(export), str(work / "load.duckdb"),
         str(work / "pipelines")],
        capture_output=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"dlt failed:\n{proc.stderr.decode()[-3000:]}")
    answer: dict[str, float] = orjson.loads(proc.stdout.splitlines()[-1])
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    export = export_for(args.records)
    lines = sum(1 for _ in export.open("rb"))
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"command: bench/dlt_compare.py --records {args.records}")
    print(f"records: {lines:,} (export {export.stat().st_size / 1e6:,.0f} MB, random ids)")
    _dlt_python()  # install before anything is timed
    started = time.perf_counter()
    ours = timed_sync(workspace_for(export), backfill=True)
    ours_elapsed = time.perf_counter() - started
    theirs = run_dlt(export)
    ours_rate, theirs_rate = lines / ours_elapsed, lines / theirs["elapsed"]
    print(
        f"billbridge sync --backfill: {ours_elapsed:,.1f} s -> {ours_rate:,.0f} records/s, "
        f"peak {ours.peak_mb:,.0f} MB (posted {ours.result['posted']:,} entries)"
    )
    print(
        f"dlt -> duckdb, merge on id: {theirs['elapsed']:,.1f} s -> {theirs_rate:,.0f} "
        f"records/s, peak {theirs['peak_mb']:,.0f} MB"
    )
    print(
        f"ratio billbridge/dlt: speed {ours_rate / theirs_rate:,.2f}x, "
        f"memory {ours.peak_mb / theirs['peak_mb']:,.2f}x"
    )


if __name__ == "__main__":
    main()
