"""Export files for manual import: QuickBooks Online journal entries, Xero sales invoices.

The "manual export/import" path for low volume: one CSV per run in a folder, laid out as
the vendor's published import template, and a manifest beside them that records which
idempotency keys each file holds, so no record ever lands in two files.
"""

from __future__ import annotations

from ._formats import FORMATS, ExportFormat
from ._target import MANIFEST, CsvExportTarget, exported_keys

__all__ = ["FORMATS", "MANIFEST", "CsvExportTarget", "ExportFormat", "exported_keys"]
