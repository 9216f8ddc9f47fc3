"""The last line of defence: no text answer of the service carries a workspace secret.

Why a middleware as well as `redact` at each answer: settings are redacted where they
are shown, but a secret can also reach an answer inside text nobody wrote to show it
— a connection error quoting a database URL in a run's `stopped` reason, a queue row's
`why`. Every text answer (JSON, HTML, plain text) is buffered and run through
`billbridge.redact.scrub` with the workspace's secret values before it leaves; other
answers (images, streams of bytes) pass untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billbridge.redact import scrub

__all__ = ["ScrubSecrets"]

_TEXT = (b"application/json", b"text/", b"application/problem+json")


class ScrubSecrets:
    """Pure ASGI middleware: buffer each text answer, mask every secret, fix its length."""

    def __init__(self, app: ASGIApp, *, secrets: Sequence[str]) -> None:
        self.app = app
        self.secrets = tuple(secrets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def filtered(message: Message) -> None:
            if message["type"] == "http.response.start":
                kind = dict(message.get("headers", [])).get(b"content-type", b"")
                if kind.startswith(_TEXT):
                    start.update(message)
                    return
                await send(message)
                return
            if message["type"] != "http.response.body" or not start:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            text = body.decode("utf-8", errors="surrogateescape")
            clean = scrub(text, self.secrets).encode("utf-8", errors="surrogateescape")
            headers = [
                (k, str(len(clean)).encode() if k == b"content-length" else v)
                for k, v in start.get("headers", [])
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": clean, "more_body": False})

        await self.app(scope, receive, filtered)
