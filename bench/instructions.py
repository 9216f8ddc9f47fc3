"""Benchmark: CPU instructions per record of a backfill, counted by valgrind's callgrind.

Run by hand, not by the test suite (needs `valgrind`; about two minutes for 5,000 records):

    .venv/bin/python bench/instructions.py --records 5000 [--ids sequential] [--second]

Why a second backfill benchmark: the machines here are shared, so records/s from
`bench/backfill.py` moves by ±20 % between runs, which hides a 5 % change. callgrind
counts the instructions the sync process executes, the same count for the same code and
data whatever else runs. It runs the backfill twice, on the first `--records` lines of
the synthetic export and on its first 10 lines, and reports the difference per record,
so the start-up (imports, opening the store) is not counted.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from backfill import export_for, workspace_for

_COLLECTED = re.compile(rb"Collected : (\d+)")


def instructions(lines: list[bytes], scratch: Path, *, second: bool = False) -> int:
    """Instructions of `billbridge sync --backfill` over an export of `lines`; with
    `second`, of a second `billbridge sync` after that backfill (run without valgrind)."""
    export = scratch / f"stripe-{len(lines)}.jsonl"
    export.write_bytes(b"".join(lines))
    ws = workspace_for(export)
    sync = [sys.executable, "-m", "billbridge", "sync", "-w", str(ws), "--json"]
    try:
        if second:
            subprocess.run([*sync, "--backfill"], capture_output=True, check=True)
        else:
            sync.append("--backfill")
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={scratch / 'callgrind.out'}",
                *sync,
            ],
            capture_output=True,
            check=False,
        )
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    found = _COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"the sync under valgrind failed:\n{proc.stderr.decode()[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument(
        "--ids", choices=("random", "sequential"), default="random",
        help="Stripe-like random ids (the default) or the older sequential ones",
    )  # fmt: skip
    parser.add_argument(
        "--second", action="store_true",
        help="count a second sync over the unchanged export instead of the backfill",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian package `valgrind`)")
    with export_for(30_000, args.ids).open("rb") as handle:
        lines = [line for _, line in zip(range(args.records), handle, strict=False)]
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        start_up = instructions(lines[:10], scratch, second=args.second)
        total = instructions(lines, scratch, second=args.second)
    per_record = (total - start_up) / (len(lines) - 10)
    print(f"records: {len(lines):,}; instructions: {total:,} in all, {start_up:,} for start-up")
    print(f"per record: {per_record:,.0f} instructions")


if __name__ == "__main__":
    main()
