"""Invoice registers and payment lists as finance teams export them: CSV and XLSX rows.

Why its own package: these files are where format mismatches bite ("$1,234.56" vs
"1.234,56 €", 03/04/2026 vs 04.03.2026). Layouts say which column holds which field
(`_layouts`), cells are read by the declared locale and date format, never guessed
(`_cells`, on `formats.cells`), and rows become canonical invoices, credit notes,
payments and refunds (`_normalize`) through the source model of a `files` connection
(`_model`). Everything here is pure; the reading of files is `connectors.files`.
"""

from __future__ import annotations

from ._cells import RecordCells, Settings, cell_text
from ._layouts import (
    FIELDS,
    GENERIC_INVOICE_COLUMNS,
    GENERIC_PAYMENT_COLUMNS,
    GROUPED,
    IDENTITY,
    LAYOUTS,
    Layout,
    LayoutError,
    ObjectKind,
    custom_layout,
    header_key,
    match_header,
    missing_fields,
)
from ._model import describe_with, files_model, normalize_with
from ._normalize import STATUS_WORDS, identity

__all__ = [
    "FIELDS",
    "GENERIC_INVOICE_COLUMNS",
    "GENERIC_PAYMENT_COLUMNS",
    "GROUPED",
    "IDENTITY",
    "LAYOUTS",
    "STATUS_WORDS",
    "Layout",
    "LayoutError",
    "ObjectKind",
    "RecordCells",
    "Settings",
    "cell_text",
    "custom_layout",
    "describe_with",
    "files_model",
    "header_key",
    "identity",
    "match_header",
    "missing_fields",
    "normalize_with",
]
