"""Benchmark: live-Stripe backfill throughput against localstripe, and the SDK's cost.

Run by hand, not by the test suite:

    .venv/bin/python bench/stripe_api.py --customers 200 --payments 200

Two figures:
1. Backfill read throughput: `StripeApiSource.read` over customers, payment intents
   and charges on a localstripe filled through the SDK (rate limiter set out of the
   way). localstripe is the bottleneck here, not billbridge: it is a single-threaded
   aiohttp process that rebuilds every list from its whole store and pickles the
   store on every write. Real Stripe answers a 100-object page in ~300-600 ms, and
   the rate limit (25/100 req/s) caps a real backfill at 2,500-10,000 objects/s.
2. Per-object cost of the SDK's resource path (`client.v1.customers.list`, which builds
   StripeObjects) against the raw request path the source uses (`raw_request` + orjson),
   on the same pages, and the pure parsing part of each (no HTTP).
"""

from __future__ import annotations

import argparse
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "tests" / "integration" / "stripe_live" / "localstripe_main.py"
KEY = "sk_test_bench"


def start_localstripe(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), str(sock.fileno()), str(data)],
        pass_fds=(sock.fileno(),),
    )
    sock.close()
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            request = urllib.request.Request(f"{base}/v1/customers")
            request.add_header("Authorization", f"Bearer {KEY}")
            urllib.request.urlopen(request, timeout=2).close()
        except OSError:
            time.sleep(0.1)
        else:
            return proc, base
    proc.kill()
    raise SystemExit("localstripe did not start")


def fill(client: Any, customers: int, payments: int) -> float:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    started = time.perf_counter()
    ids = []
    for n in range(customers):
        cus = client.v1.customers.create(params={"name": f"Customer {n}", "email": f"c{n}@x.io"})
        ids.append(cus.id)
    pm = client.v1.payment_methods.create(params={"type": "card", "card": card})
    client.v1.payment_methods.attach(pm.id, params={"customer": ids[0]})
    for n in range(payments):
        pi = client.v1.payment_intents.create(
            params={"amount": 1000 + n, "currency": "eur", "customer": ids[0],
                    "payment_method": pm.id}
        )  # fmt: skip
        client.v1.payment_intents.confirm(pi.id)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import stripe

    from billbridge.connectors.stripe_api import StripeApi, StripeApiSource

    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_localstripe(Path(tmp) / "store.pickle")
        try:
            client = stripe.StripeClient(
                KEY, base_addresses={"api": base}, stripe_version="2017-08-15",
                max_network_retries=0,
            )  # fmt: skip
            made = fill(client, args.customers, args.payments)
            objects = args.customers + 2 * args.payments
            print(f"machine: {platform.machine()}, {platform.python_implementation()} "
                  f"{platform.python_version()}, stripe {stripe.VERSION}")  # fmt: skip
            print(f"created {objects} objects in localstripe in {made:.1f} s "
                  f"({objects / made:.0f}/s)")  # fmt: skip

            best = 0.0
            for _ in range(args.repeat):
                api = StripeApi(api_key=KEY, api_base=base, rate=1e6)
                source = StripeApiSource(
                    "stripe", api, objects=["customers", "payment_intents", "charges"]
                )
                started = time.perf_counter()
                read = 0
                for record in source.read(None):
                    if orjson.loads(record.position).get("ev") is not None:
                        break  # the backfill is done; what follows is the events catch-up
                    read += 1
                elapsed = time.perf_counter() - started
                best = max(best, read / elapsed)
                print(f"backfill read: {read} objects, {api.stats.requests} requests, "
                      f"{elapsed:.2f} s, {read / elapsed:.0f} objects/s")  # fmt: skip
            print(f"backfill read, best: {best:.0f} objects/s")

            pages = [
                client.raw_request("get", "/v1/customers", limit=100).body
                for _ in range(args.repeat)
            ]
            page_objects = len(orjson.loads(pages[0])["data"])
            rounds = 20
            started = time.perf_counter()
            for _ in range(rounds):
                client.v1.customers.list(params={"limit": 100})
            sdk_http = (time.perf_counter() - started) / (rounds * page_objects)
            started = time.perf_counter()
            for _ in range(rounds):
                orjson.loads(client.raw_request("get", "/v1/customers", limit=100).body)
            raw_http = (time.perf_counter() - started) / (rounds * page_objects)
            body = pages[0]
            started = time.perf_counter()
            for _ in range(200):
                client.deserialize(orjson.loads(body), api_mode="V1")
            sdk_parse = (time.perf_counter() - started) / (200 * page_objects)
            started = time.perf_counter()
            for _ in range(200):
                orjson.loads(body)
            raw_parse = (time.perf_counter() - started) / (200 * page_objects)
            print(f"per object, with HTTP: SDK list {sdk_http * 1e6:.0f} µs, "
                  f"raw_request+orjson {raw_http * 1e6:.0f} µs")  # fmt: skip
            print(f"per object, parsing only: JSON->StripeObject {sdk_parse * 1e6:.1f} µs, "
                  f"orjson {raw_parse * 1e6:.2f} µs")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
