"""Request latency of `billbridge serve` (REST API and web pages), on SQLite or PostgreSQL.

Usage: .venv/bin/python bench/service_latency.py [--requests N] [--state URL] [--no-pool]

Builds a demo workspace in a temporary folder, adds an operator with a token, starts the
real app under uvicorn on a loopback port and times N sequential requests per endpoint
(each request borrows an open store from the app's pool, as in production; with
`--no-pool` each request opens and closes its own, as before the pool, for comparison).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from billbridge.config import load_workspace
from billbridge.engine.run import sync_flow
from billbridge.service.app import create_app
from billbridge.service.auth import create_token, hash_password
from billbridge.store import StorePool
from billbridge.wiring import flows, open_workspace_store
from billbridge.workspace_files import create_demo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--state", default="", help="BILLBRIDGE_STATE (default: SQLite)")
    parser.add_argument("--no-pool", action="store_true", help="a store per request")
    args = parser.parse_args()
    if args.state:
        os.environ["BILLBRIDGE_STATE"] = args.state
    root = Path(tempfile.mkdtemp()) / "ws"
    create_demo(root, invoices=120)
    ws = load_workspace(root)
    store = open_workspace_store(ws)
    with flows(ws) as lookup:
        for flow in ws.flows:
            sync_flow(lookup(flow.name), store, actor="bench")
    store.add_user(name="op", role="operator", password_hash=hash_password("x" * 12))
    token = create_token(store, user="op")
    store.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(ws)
    if args.no_pool:
        app.state.stores = StorePool(lambda: open_workspace_store(ws), size=0)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        for path in ("/api/health", "/api/queue", "/api/runs", "/api/trace/DEMO-9999", "/queue"):
            times = []
            for _ in range(args.requests):
                start = time.perf_counter()
                assert client.get(path).status_code == 200
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"GET {path:<22} median {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms")
        body = {"keys": ["stripe:invoice:in_demo_unmapped_tax"], "dry_run": True}
        times = []
        for _ in range(max(args.requests // 10, 5)):
            start = time.perf_counter()
            assert client.post("/api/queue/replay", json=body).status_code == 200
            times.append((time.perf_counter() - start) * 1000)
        print(f"POST /api/queue/replay (dry run) median {statistics.median(times):6.1f} ms")
    server.should_exit = True


if __name__ == "__main__":
    main()
