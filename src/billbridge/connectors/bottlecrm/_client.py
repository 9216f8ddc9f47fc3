"""BottleCRM's HTTP edge: one httpx client, every answer translated into the three kinds.

Why translate here: the engine decides what happens next by the kind of error alone
(`connectors.base`), so the CRM's answers are sorted at the edge:

    httpx.TransportError (timeouts, refused connections)   → RetryableError
    HTTP 429, 5xx                                           → RetryableError
    HTTP 401, 403 (a bad or revoked token)                  → FatalError (stop the run)
    HTTP 404 on a read of one object                        → None (the object is gone)
    any other 4xx (the CRM refused this record)             → RecordError, with its message

The client is injectable (`client=`): tests hand in an `httpx.Client` over a
`MockTransport` for the failure kinds a real CRM will not produce on demand. Messages
never carry the token; the CRM's own error texts name fields, which is what a person
needs to fix a record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import httpx

from billbridge.connectors.base import FatalError, RecordError, RetryableError

__all__ = ["CrmApi", "crm_message"]

_RETRY_STATUS: Final = frozenset({408, 425, 429})


def crm_message(body: Any) -> str:
    """The CRM's error answer as one line: `field: message; …` or its `message`."""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, Mapping):
            parts = []
            for name, value in errors.items():
                text = "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
                parts.append(f"{name}: {text}")
            if parts:
                return "; ".join(parts)
        if isinstance(errors, str) and errors:
            return errors
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    text = str(body) if body is not None else ""
    return text[:300] or "no reason given"


class CrmApi:
    """JSON calls against one BottleCRM as the token's profile."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: float = 30.0,
        page_size: int = 100,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = timeout
        self._own = client is None
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.requests = 0

    def close(self) -> None:
        """Close the connection pool (an injected client is the caller's to close); the
        next call opens a new one."""
        if self._own and self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    # ------------------------------------------------------------------ one call
    def call(self, method: str, path: str, body: Any = None, *, what: str = "") -> Any:
        """The parsed answer of a 2xx; raises the connector kind for anything else."""
        url = path if path.startswith("http") else self.base_url + path
        what = what or f"{method} {path.split('?', maxsplit=1)[0]}"
        self.requests += 1
        try:
            answer = self._http().request(method, url, json=body, headers=self._headers)
        except httpx.TransportError as exc:
            raise RetryableError(
                f"BottleCRM {what}: {type(exc).__name__} ({self.base_url})"
            ) from None
        status = answer.status_code
        try:
            data: Any = answer.json() if answer.content else None
        except ValueError:
            data = answer.text[:300]
        if 200 <= status < 300:
            return data
        message = f"BottleCRM {what}: {crm_message(data)} (HTTP {status})"
        if status in (401, 403):
            raise FatalError(f"{message}; check `token` of the connection")
        if status in _RETRY_STATUS or status >= 500:
            raise RetryableError(message)
        raise RecordError(message)

    def get_one(self, path: str, *, what: str = "") -> Any | None:
        """GET one object; None when the CRM answers 404 (it is gone)."""
        try:
            return self.call("GET", path, what=what)
        except RecordError as exc:
            if "(HTTP 404)" in str(exc):
                return None
            raise

    # ------------------------------------------------------------------ listings
    def pages(
        self, resource: str, *, start: int = 0, query: str = ""
    ) -> Iterator[tuple[int, list[dict[str, Any]], int | None]]:
        """(offset, items, next offset or None) of each page of a resource's list.

        The wrappers differ per resource (see the recipe's cheat-sheet): accounts hold
        open and closed lists with an offset each, contacts `results` and deals
        `opportunities` with the next `offset`, invoices DRF's `results` and `next`.
        """
        offset: int | None = start
        while offset is not None:
            extra = f"&{query}" if query else ""
            path = f"/api/{resource}/?limit={self.page_size}&offset={offset}{extra}"
            data = self.call("GET", path, what=f"list {resource}")
            items, following = _page(resource, data, offset, self.page_size)
            yield offset, items, following
            offset = following


def _page(
    resource: str, data: Any, offset: int, size: int
) -> tuple[list[dict[str, Any]], int | None]:
    if not isinstance(data, Mapping):
        raise RetryableError(f"BottleCRM list {resource}: the answer is not a JSON object")
    if resource == "accounts":
        active = data.get("active_accounts") or {}
        closed = data.get("closed_accounts") or {}
        items = [*active.get("open_accounts", []), *closed.get("close_accounts", [])]
        more = any(
            int(part.get(count) or 0) > offset + size
            for part, count in ((active, "open_accounts_count"), (closed, "close_accounts_count"))
        )
        return items, offset + size if more else None
    if resource == "invoices":
        items = list(data.get("results") or [])
        return items, offset + size if data.get("next") else None
    key = {"contacts": "results", "opportunities": "opportunities"}[resource]
    items = list(data.get(key) or [])
    following = data.get("offset")
    return items, int(following) if isinstance(following, int) and following > offset else None
