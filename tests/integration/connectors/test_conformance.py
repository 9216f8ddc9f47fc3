"""Every target connector, and a plugin's source, pass the shared conformance suites
(`billbridge.testing`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from billbridge.connectors.base import RawRecord, TargetConnector
from billbridge.connectors.beancount import BeancountTarget
from billbridge.connectors.source import SourceModel
from billbridge.testing import SourceConformance, TargetConformance


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


@pytest.mark.usefixtures("plugin_site")
class TestOrdersPluginSourceConformance(SourceConformance):
    """A third party's source (tests/plugins/billbridge_orders.py), through its entry point:
    its records as its own source reads them from a file."""

    connection = "orders"
    where = Path()

    @pytest.fixture(autouse=True)
    def _export(self, tmp_path: Path) -> None:
        self.where = tmp_path

    def _spec_and_config(self) -> tuple[Any, Any]:
        from billbridge.connectors.registry import connector_spec

        spec = connector_spec("orders-file")
        return spec, spec.config.model_validate(
            {"connector": "orders-file", "path": str(self.where / "orders.jsonl")}
        )

    def source_model(self) -> SourceModel:
        spec, config = self._spec_and_config()
        return cast(SourceModel, spec.source_model(config))

    def _read(self, lines: list[dict[str, Any]]) -> list[RawRecord]:
        spec, config = self._spec_and_config()
        path = self.where / "orders.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return list(spec.factory("orders", config).read(None))

    def good_records(self) -> Sequence[RawRecord]:
        item = {"text": "Pro", "sku": "pro", "net": "100.00", "vat": "de19", "vat_amount": "19.00"}
        return self._read([
            {"kind": "client", "ref": "C1", "name": "Globex GmbH", "mail": "ap@globex.example"},
            {"kind": "bill", "ref": "B-1", "no": "INV-1", "issued": "2026-03-04", "ccy": "EUR",
             "total": "119.00", "client": {"code": "C1", "name": "Globex GmbH"}, "items": [item]},
            {"kind": "receipt", "ref": "R-1", "bill": "B-1", "on": "2026-03-10", "ccy": "EUR",
             "gross": "119.00", "fee": "1.20"},
            {"kind": "refund", "ref": "F-1", "receipt": "R-1", "bill": "B-1", "on": "2026-03-12",
             "ccy": "EUR", "amount": "19.00"},
        ])  # fmt: skip

    def bad_records(self) -> Sequence[RawRecord]:
        return self._read([
            {"kind": "receipt", "ref": "R-2", "bill": "B-1", "on": "2026-03-10", "ccy": "EURO",
             "gross": "1", "fee": "0"},
            {"kind": "receipt", "ref": "R-3", "bill": "B-1", "on": "10.03.2026", "ccy": "EUR",
             "gross": "1", "fee": "0"},
            {"kind": "client", "ref": "C2"},
        ])  # fmt: skip
