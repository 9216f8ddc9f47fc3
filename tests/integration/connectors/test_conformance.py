"""Every target connector passes the shared conformance suite (`billbridge.testing`)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from billbridge.connectors.base import TargetConnector
from billbridge.connectors.beancount import BeancountTarget
from billbridge.testing import TargetConformance


class TestBeancountConformance(TargetConformance):
    def open_target(self, where: Path) -> TargetConnector:
        return BeancountTarget("books", where / "books" / "main.beancount")


class TestGnuCashConformance(TargetConformance):
    def open_target(self, where: Path) -> TargetConnector:
        pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
        from billbridge.connectors.gnucash import GnuCashTarget

        return GnuCashTarget("books", where / "books" / "main.gnucash", currency="EUR")


class TestSqlLedgerOnSqliteConformance(TargetConformance):
    def open_target(self, where: Path) -> TargetConnector:
        from billbridge.connectors.sqlgl import SqlLedgerTarget

        return SqlLedgerTarget("gl", f"sqlite:///{where / 'ledger.db'}")


class TestQuickBooksExportConformance(TargetConformance):
    def open_target(self, where: Path) -> TargetConnector:
        from billbridge.connectors.csv_export import CsvExportTarget

        return CsvExportTarget("export", where / "out", "quickbooks-journal")


@pytest.mark.postgres
class TestSqlLedgerOnPostgresConformance(TargetConformance):
    url = ""

    @pytest.fixture(autouse=True)
    def _schema(self, pg_url: str) -> None:
        self.url = pg_url  # one fresh schema per test; reopening the target reopens it

    def open_target(self, where: Path) -> TargetConnector:
        from billbridge.connectors.sqlgl import SqlLedgerTarget

        return SqlLedgerTarget("gl", self.url)


@pytest.mark.usefixtures("plugin_site")
class TestJsonlPluginConformance(TargetConformance):
    """A third party's target, loaded through its entry point (tests/plugins)."""

    def open_target(self, where: Path) -> TargetConnector:
        from billbridge.connectors.registry import connector_spec

        spec = connector_spec("jsonl-file")
        config = spec.config.model_validate(
            {"connector": "jsonl-file", "path": str(where / "books" / "entries.jsonl")}
        )
        return cast(TargetConnector, spec.factory("books", config))
