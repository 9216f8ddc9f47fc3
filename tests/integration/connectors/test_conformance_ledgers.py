"""The ledger targets of issue 5 pass the shared conformance suite (`billbridge.testing`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from billbridge.connectors.base import TargetConnector

testing = pytest.importorskip("billbridge.testing", reason="the suite lands with main's c8728e0")


class TestGnuCashConformance(testing.TargetConformance):
    def open_target(self, where: Path) -> TargetConnector:
        pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
        from billbridge.connectors.gnucash import GnuCashTarget

        return GnuCashTarget("books", where / "books" / "main.gnucash", currency="EUR")


class TestSqlLedgerOnSqliteConformance(testing.TargetConformance):
    def open_target(self, where: Path) -> TargetConnector:
        from billbridge.connectors.sqlgl import SqlLedgerTarget

        return SqlLedgerTarget("gl", f"sqlite:///{where / 'ledger.db'}")


class TestQuickBooksExportConformance(testing.TargetConformance):
    def open_target(self, where: Path) -> TargetConnector:
        from billbridge.connectors.csv_export import CsvExportTarget

        return CsvExportTarget("export", where / "out", "quickbooks-journal")


@pytest.mark.postgres
class TestSqlLedgerOnPostgresConformance(testing.TargetConformance):
    url = ""

    @pytest.fixture(autouse=True)
    def _schema(self, pg_url: str) -> None:
        self.url = pg_url  # one fresh schema per test; reopening the target reopens it

    def open_target(self, where: Path) -> TargetConnector:
        from billbridge.connectors.sqlgl import SqlLedgerTarget

        return SqlLedgerTarget("gl", self.url)
