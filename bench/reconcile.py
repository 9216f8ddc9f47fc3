"""Benchmark: `billbridge reconcile` over a synced workspace (source, store and ledger re-read).

Run by hand, not by the test suite:

    .venv/bin/python bench/reconcile.py --invoices 10000

It builds a workspace with a generated export (current API shape, no faults), syncs it,
then times `reconcile --json` in a child process and reports records/s and the child's
peak resident memory. Reconcile holds the three views in memory by design (it compares
every key against every system), so memory grows with the export.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=10_000)
    args = parser.parse_args()
    from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES, generate, write_jsonl
    from billbridge.workspace_files import create_workspace

    root = Path(tempfile.mkdtemp(prefix="bb-reconcile-"))
    products = {p: f"Income:Sales:{p.removeprefix('prod_').title()}" for p in SAMPLE_PRODUCTS}
    rates = {r: f"Liabilities:Tax:{r.removeprefix('txr_').upper()}" for r in SAMPLE_TAX_RATES}
    products = {k: v.replace("_", "-") for k, v in products.items()}
    rates = {k: v.replace("_", "-") for k, v in rates.items()}
    create_workspace(root, products=products, tax_rates=rates, timezone="Europe/Berlin")
    export = root / "exports" / "stripe.jsonl"
    write_jsonl(export, generate(invoices=args.invoices, seed=1, api="current"))
    records = sum(1 for _ in export.open("rb"))
    cli = [sys.executable, "-m", "billbridge"]
    subprocess.run([*cli, "sync", "-w", str(root), "--json"], check=False, capture_output=True)
    start = time.perf_counter()
    done = subprocess.run(
        [*cli, "reconcile", "-w", str(root), "--json"], check=False, capture_output=True
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"reconcile: {records} source records in {seconds:.1f} s "
        f"({records / seconds:,.0f} records/s), exit {done.returncode}, "
        f"peak RSS of the largest child {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
