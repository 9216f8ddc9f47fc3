"""Benchmark: peak memory of `billbridge books check` on the SQL ledger and GnuCash.

Run by hand, not by the test suite:

    .venv/bin/python bench/books_check_memory.py --records 100000

Posts backfill.py's export to an SQL ledger (SQLite) and a GnuCash book, then runs
`books check` in a child process per target and reports each child's own peak RSS
(`os.wait4`, not RUSAGE_CHILDREN, which is the largest of every child so far, the sync
included). `--whole` also runs the SQL ledger with one page holding every line, which
is what fetching them all cost before `ledger_lines` read in pages.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from backfill import export_for, workspace_for
from ledger_targets import TARGETS

_CHECK = """
import sys
import billbridge.connectors.sqlgl._read as read
if sys.argv[2]:
    read._PAGE = int(sys.argv[2])
from billbridge.cli import app
app(["books", "check", "-w", sys.argv[1], "--json"])
"""


def check(ws: str, page: str = "") -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one `books check` child."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _CHECK, ws, page], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--whole", action="store_true")
    args = parser.parse_args()
    export = export_for(args.records)
    for name in ("sqlgl-sqlite", "gnucash"):
        ws = workspace_for(export, tag=f"-books-{name}")
        config = ws / "billbridge.yaml"
        config.write_text(config.read_text().replace(TARGETS["beancount"], TARGETS[name]))
        sync = [sys.executable, "-m", "billbridge", "sync", "--backfill", "-w", str(ws), "--json"]
        subprocess.run(sync, capture_output=True, check=False)
        runs = [("", "pages")] + ([(str(10**9), "whole")] if args.whole and "sqlgl" in name else [])
        for page, label in runs:
            seconds, peak, code = check(str(ws), page)
            print(
                f"{name:13} {label:6} books check {seconds:5.1f} s, peak RSS {peak:5.0f} MB, "
                f"exit {code}"
            )


if __name__ == "__main__":
    main()
