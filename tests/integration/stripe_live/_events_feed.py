"""localstripe behind a proxy that adds the charge and refund events localstripe lacks.

localstripe keeps `/v1/events` for customers, invoices, payment intents and payouts, but
sends no `charge.*` or refund events. This proxy forwards every request to localstripe
unchanged, except `GET /v1/events`, which it answers from localstripe's own events plus
the events a test adds (`add`), shaped as Stripe's API reference shows them: newest
first, `limit`, `starting_after`, `has_more`, `created[gte]`. It is a fake of that one
endpoint, named so; every object the events name is real and fetched from localstripe.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


class EventsFeed:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.added: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    def add(self, obj: dict[str, Any], *, type: str, created: int) -> str:
        """A Stripe event about `obj` (its copy as the event carries it); returns its id."""
        with self.lock:
            ident = f"evt_feed{len(self.added):06d}"
            self.added.append(
                {
                    "id": ident,
                    "object": "event",
                    "api_version": "2017-08-15",
                    "created": created,
                    "type": type,
                    "livemode": False,
                    "pending_webhooks": 0,
                    "request": {"id": None, "idempotency_key": None},
                    "data": {"object": obj},
                }
            )
            return ident

    def _upstream_events(self, auth: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        after = ""
        while True:
            query = "limit=100" + (f"&starting_after={after}" if after else "")
            request = urllib.request.Request(f"{self.upstream}/v1/events?{query}")
            request.add_header("Authorization", auth)
            with urllib.request.urlopen(request, timeout=10) as answer:
                page = orjson.loads(answer.read())
            events.extend(page["data"])
            if not page["data"] or not page["has_more"]:
                return events
            after = page["data"][-1]["id"]

    def events_page(self, query: dict[str, list[str]], auth: str) -> dict[str, Any]:
        with self.lock:
            added = list(self.added)
        merged = self._upstream_events(auth) + added
        floor = int(query.get("created[gte]", ["0"])[0])
        merged = [e for e in merged if e["created"] >= floor]
        merged.sort(key=lambda e: (e["created"], e["id"]), reverse=True)  # newest first
        limit = int(query.get("limit", ["10"])[0])
        after = query.get("starting_after", [None])[0]
        start = 0
        if after is not None:
            start = next(i for i, e in enumerate(merged) if e["id"] == after) + 1
        return {
            "object": "list",
            "url": "/v1/events",
            "data": merged[start : start + limit],
            "has_more": start + limit < len(merged),
        }


@contextmanager
def events_feed(localstripe: str) -> Iterator[EventsFeed]:
    feed = EventsFeed(localstripe)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            request = urllib.request.Request(
                f"{feed.upstream}{self.path}", data=body, method=method
            )
            for name in ("Authorization", "Content-Type", "Stripe-Version"):
                if self.headers.get(name):
                    request.add_header(name, self.headers[name])
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    self._answer(answer.status, answer.read())
            except urllib.error.HTTPError as exc:
                self._answer(exc.code, exc.read())

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/v1/events":
                page = feed.events_page(parse_qs(url.query), self.headers["Authorization"])
                self._answer(200, orjson.dumps(page))
            else:
                self._forward("GET")

        def do_POST(self) -> None:
            self._forward("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    feed.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield feed
    finally:
        server.shutdown()
        server.server_close()
