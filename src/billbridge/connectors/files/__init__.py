"""`connector: files`: invoice registers, payment lists, refunds and credit notes from
CSV and XLSX exports, in any locale (the "manual export/import" path).

Registered like every built-in connector (pyproject.toml's `billbridge.connectors`
entry points). Its source model (`billbridge.formats.files`) reads cells by the
connection's declared locale and date format; this package reads the files and, for an
inbox folder, moves each processed file to `done/` or `failed/` with a report.
See docs/files.md.
"""

from __future__ import annotations

from billbridge.connectors.source import SourceModel
from billbridge.connectors.spec import ConnectorSpec
from billbridge.formats.files import files_model

from ._config import FilesConnection
from ._read import FileProblem, Table, build_records, read_table
from ._report import REPORT_SUFFIX, report_of, settle_file
from ._source import ARCHIVES, FilesSource

__all__ = [
    "ARCHIVES",
    "REPORT_SUFFIX",
    "SPEC",
    "FileProblem",
    "FilesConnection",
    "FilesSource",
    "Table",
    "build_records",
    "read_table",
    "report_of",
    "settle_file",
    "source_model",
]


def source_model(conn: FilesConnection) -> SourceModel:
    """The normalizer, look-ups and `describe` for this connection's locale and formats."""
    return files_model(conn.settings())


SPEC = ConnectorSpec(
    name="files",
    config=FilesConnection,
    role="source",
    factory=FilesSource,
    source_model=source_model,
)
