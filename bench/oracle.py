"""The books-vs-source oracle of issue 14, long mode: many generated histories per ledger.

Run by hand, not by the test suite (which runs a few examples per ledger):

    .venv/bin/python bench/oracle.py --examples 200
    .venv/bin/python bench/oracle.py --examples 50 --targets gnucash --modes functional

Each example is a whole Stripe history (tests/oracle/histories.py) synced into a fresh
workspace in a random order, over one to three syncs, in a random batch size, then
checked against the source (tests/oracle/check.py). A failing example is reported and
counted, and the run goes on; `--shrink` stops at the first one and lets hypothesis
shrink it, for the regression test. The summary (histories checked, counterexamples,
time) is what bench/RESULTS.md records.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from tests.oracle.check import Mode, Plan, run_history  # noqa: E402
from tests.oracle.histories import History  # noqa: E402
from tests.oracle.test_oracle import cases  # noqa: E402

TARGETS = ("beancount", "sqlgl", "gnucash")
MODES: tuple[Mode, ...] = ("multi", "functional")


def _run(
    target: str, mode: Mode, examples: int, *, shrink: bool, seed_value: int
) -> dict[str, object]:
    checked = 0
    objects = 0
    failures: list[tuple[History, Plan, list[str]]] = []
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]

    @settings(max_examples=examples, deadline=None, database=None, phases=phases,
              suppress_health_check=list(HealthCheck), derandomize=False)  # fmt: skip
    @seed(seed_value)
    @given(cases())
    def one(case: tuple[History, Plan]) -> None:
        nonlocal checked, objects
        history, plan = case
        with tempfile.TemporaryDirectory(prefix="oracle-") as tmp:
            found = run_history(Path(tmp) / "ws", history, plan, target=target, mode=mode)
        checked += 1
        objects += sum(len(u) for u in history.units())
        if found:
            failures.append((history, plan, found))
            if shrink:
                raise AssertionError("\n".join(found))

    started = time.perf_counter()
    with contextlib.suppress(AssertionError):
        one()
    elapsed = time.perf_counter() - started
    return {"checked": checked, "objects": objects, "failures": failures, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="histories per target and mode")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--shrink", action="store_true", help="stop at, and shrink, the first")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.system()}")  # fmt: skip
    print(f"command: bench/oracle.py {' '.join(sys.argv[1:])}")
    total_checked = total_failed = 0
    for target in args.targets:
        for mode in args.modes:
            if target == "gnucash" and mode == "multi":
                continue  # a GnuCash transaction has one currency: EUR books only
            salt = sum(map(ord, target + mode))  # other histories for each ledger and mode
            result = _run(target, mode, args.examples, shrink=args.shrink,
                          seed_value=args.seed * 1000 + salt)  # fmt: skip
            failures = result["failures"]
            assert isinstance(failures, list)
            total_checked += int(str(result["checked"]))
            total_failed += len(failures)
            print(f"{target:9} {mode:10} histories {result['checked']:5}  objects "
                  f"{result['objects']:6}  counterexamples {len(failures):3}  "
                  f"{float(str(result['seconds'])):7.1f} s")  # fmt: skip
            for history, plan, found in failures[:3]:
                print(f"  counterexample: {history}\n  plan: {plan}")
                for line in found:
                    print(f"    {line}")
    print(f"total: {total_checked} histories checked, {total_failed} counterexamples")


if __name__ == "__main__":
    main()
