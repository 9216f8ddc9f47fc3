"""Helpers for the ledger-target e2e tests: point a test workspace at another target."""

from __future__ import annotations

from .conftest import Workspace

BEANCOUNT_CONNECTION = "    connector: beancount\n    path: books/main.beancount"


def retarget(ws: Workspace, connection: str) -> Workspace:
    """Replace the workspace's Beancount `books` connection by `connection` (YAML lines)."""
    config = ws.root / "billbridge.yaml"
    text = config.read_text()
    assert BEANCOUNT_CONNECTION in text
    config.write_text(text.replace(BEANCOUNT_CONNECTION, connection))
    return ws
