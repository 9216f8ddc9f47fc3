"""Every target connector passes the shared conformance suite (`billbridge.testing`)."""

from __future__ import annotations

from pathlib import Path

from billbridge.connectors.base import TargetConnector
from billbridge.connectors.beancount import BeancountTarget
from billbridge.testing import TargetConformance


class TestBeancountConformance(TargetConformance):
    def open_target(self, where: Path) -> TargetConnector:
        return BeancountTarget("books", where / "books" / "main.beancount")
