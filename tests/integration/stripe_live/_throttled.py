"""A local HTTP server shaped like Stripe's list API that answers 429 above N req/s.

Why a server of our own: localstripe has no rate limit, and the limiter must be tested
against real sockets and real timing, not a patched clock. It serves `/v1/customers`
(and an empty `/v1/events`) with `starting_after` pagination over generated customers,
counts every request and every 429, and sends `Retry-After` like Stripe does; it can
answer the next N admitted requests with a 500 (`errors`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass
class Throttle:
    limit: int  # requests per second
    customers: list[dict[str, object]]
    requests: int = 0
    throttled: int = 0
    should_retry: str | None = None  # the Stripe-Should-Retry header on a 429, if any
    errors: int = 0  # answer this many of the next admitted requests with a 500
    times: deque[float] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self) -> bool:
        now = time.monotonic()
        with self.lock:
            self.requests += 1
            while self.times and now - self.times[0] >= 1.0:
                self.times.popleft()
            if len(self.times) >= self.limit:
                self.throttled += 1
                return False
            self.times.append(now)
            return True

    def page(self, query: dict[str, list[str]]) -> dict[str, object]:
        limit = int(query.get("limit", ["10"])[0])
        after = query.get("starting_after", [None])[0]
        start = 0
        if after is not None:
            start = next(i for i, c in enumerate(self.customers) if c["id"] == after) + 1
        data = self.customers[start : start + limit]
        return {
            "object": "list",
            "data": data,
            "has_more": start + limit < len(self.customers),
            "url": "/v1/customers",
        }


def _handler(throttle: Throttle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, body: dict[str, object], **headers: str) -> None:
            raw = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Request-Id", f"req_{throttle.requests}")
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            if not throttle.admit():
                headers = {"Retry_After": "1"}
                if throttle.should_retry is not None:
                    headers["Stripe_Should_Retry"] = throttle.should_retry
                self._send(
                    429,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "rate_limit",
                            "message": "Too many requests hit the API too quickly.",
                        }
                    },
                    **headers,
                )
                return
            with throttle.lock:
                fail = throttle.errors > 0
                throttle.errors -= int(fail)
            if fail:
                self._send(500, {"error": {"type": "api_error", "message": "Something broke."}})
                return
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/v1/customers":
                self._send(200, throttle.page(query))
            elif url.path == "/v1/events":
                self._send(200, {"object": "list", "data": [], "has_more": False})
            else:
                self._send(404, {"error": {"type": "invalid_request_error", "message": "nope"}})

    return Handler


@contextmanager
def throttled_stripe(limit: int, customers: int) -> Iterator[tuple[str, Throttle]]:
    rows: list[dict[str, object]] = [
        {"object": "customer", "id": f"cus_{i:06d}", "created": 1700000000 + i, "name": f"C{i}"}
        for i in range(customers)
    ]
    throttle = Throttle(limit=limit, customers=rows)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(throttle))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", throttle
    finally:
        server.shutdown()
        server.server_close()
