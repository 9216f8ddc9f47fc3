"""A read-only Stripe-shaped API over a list of objects, for what localstripe lacks.

Built from Stripe's API reference: list endpoints `/v1/{type}` newest first with
`limit`/`starting_after` and `has_more`, `GET /v1/{type}/{id}`, `GET /v1/invoices/{id}/lines`
and `/v1/credit_notes/{id}/lines` (paginated), and `/v1/events` (empty). Invoices and
credit notes carry only their first 10 lines in lists, like Stripe. Used to backfill
credit notes, invoice payments (API 2025-03-31+) and invoices with more than 10 lines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

_PLURAL = {
    "customer": "customers",
    "balance_transaction": "balance_transactions",
    "invoice": "invoices",
    "invoice_payment": "invoice_payments",
    "payment_intent": "payment_intents",
    "charge": "charges",
    "refund": "refunds",
    "credit_note": "credit_notes",
    "payout": "payouts",
}


def _page(items: list[dict[str, Any]], query: dict[str, list[str]], url: str) -> dict[str, Any]:
    limit = int(query.get("limit", ["10"])[0])
    after = query.get("starting_after", [None])[0]
    start = 0
    if after is not None:
        start = next(i for i, o in enumerate(items) if o["id"] == after) + 1
    return {
        "object": "list",
        "url": url,
        "data": items[start : start + limit],
        "has_more": start + limit < len(items),
    }


def _listed(obj: dict[str, Any]) -> dict[str, Any]:
    lines = obj.get("lines")
    if isinstance(lines, dict) and len(lines["data"]) > 10:
        return {**obj, "lines": {**lines, "data": lines["data"][:10], "has_more": True}}
    return obj


@contextmanager
def shaped_stripe(objects: list[dict[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for obj in reversed(objects):  # Stripe lists newest first
        by_type.setdefault(_PLURAL.get(obj["object"], obj["object"]), []).append(obj)
    by_id = {o["id"]: o for o in objects}
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, body: Any) -> None:
            raw = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            parts = url.path.strip("/").split("/")  # v1, type[, id[, lines]]
            paths.append(url.path)
            if parts[1:] == ["events"]:
                self._send(200, {"object": "list", "data": [], "has_more": False})
            elif len(parts) == 2 and parts[1] in _PLURAL.values():
                items = [_listed(o) for o in by_type.get(parts[1], [])]
                self._send(200, _page(items, query, url.path))
            elif len(parts) == 3 and parts[2] in by_id:
                self._send(200, _listed(by_id[parts[2]]))
            elif len(parts) == 4 and parts[3] == "lines" and parts[2] in by_id:
                self._send(200, _page(by_id[parts[2]]["lines"]["data"], query, url.path))
            else:
                message = f"Unrecognized request URL (GET: {url.path})"
                self._send(404, {"error": {"type": "invalid_request_error", "message": message}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", paths
    finally:
        server.shutdown()
        server.server_close()
