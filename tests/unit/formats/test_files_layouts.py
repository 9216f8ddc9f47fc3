"""Layouts name the columns the vendors publish, and match headers however they are spelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from billbridge.formats.files import (
    GENERIC_INVOICE_COLUMNS,
    GENERIC_PAYMENT_COLUMNS,
    LAYOUTS,
    LayoutError,
    custom_layout,
    header_key,
    match_header,
    missing_fields,
)

TEMPLATES = json.loads(
    (Path(__file__).parents[2] / "data" / "import_templates.json").read_text(encoding="utf-8")
)


def _published(*names: str) -> set[str]:
    return {header_key(c) for name in names for c in TEMPLATES[name]["columns"]}


def test_the_xero_layout_reads_xeros_template_and_export_headers() -> None:
    layout = LAYOUTS["xero-invoices"]
    published = _published("xero-sales-invoices", "xero-invoices-export")
    for headers in layout.columns.values():
        assert {header_key(h) for h in headers} <= published, headers
    # The import template's starred names and the export's plain ones are one header each.
    template = TEMPLATES["xero-sales-invoices"]["columns"]
    found, problems = match_header(layout, template)
    assert not problems
    assert {template[i] for i in found.values()} >= {
        "*InvoiceNumber",
        "*InvoiceDate",
        "*ContactName",
        "*UnitAmount",
        "*TaxType",
    }
    export = TEMPLATES["xero-invoices-export"]["columns"]
    found, problems = match_header(layout, export)
    assert not problems and not missing_fields(layout, found, currency=False)
    assert layout.date_format == TEMPLATES["xero-sales-invoices"]["date_format"]


def test_the_quickbooks_layout_reads_the_invoice_import_headers() -> None:
    layout = LAYOUTS["quickbooks-invoices"]
    published = _published("quickbooks-invoices") | {header_key("InvoiceNo")}
    for headers in layout.columns.values():
        assert {header_key(h) for h in headers} & published, headers
    columns = TEMPLATES["quickbooks-invoices"]["columns"]
    found, problems = match_header(layout, columns)
    assert not problems and not missing_fields(layout, found, currency=False)
    assert layout.date_format == TEMPLATES["quickbooks-invoices"]["date_format"]


def test_the_generic_layouts_are_the_documented_headers() -> None:
    invoices, payments = LAYOUTS["generic-invoices"], LAYOUTS["generic-payments"]
    assert GENERIC_INVOICE_COLUMNS == (
        "number",
        "date",
        "customer_id",
        "customer_name",
        "customer_country",
        "currency",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "tax_rate",
        "tax_amount",
        "total",
    )
    assert GENERIC_PAYMENT_COLUMNS == (
        "payment_id",
        "date",
        "invoice_number",
        "currency",
        "amount",
        "fee",
    )
    found, _ = match_header(invoices, list(GENERIC_INVOICE_COLUMNS))
    assert set(found) == set(GENERIC_INVOICE_COLUMNS)
    found, _ = match_header(payments, list(GENERIC_PAYMENT_COLUMNS))
    assert set(found) == set(GENERIC_PAYMENT_COLUMNS)


@pytest.mark.parametrize("header", ["number", "Number", " NUMBER ", "*number", "num-ber"])
def test_headers_match_by_letters_and_digits(header: str) -> None:
    assert LAYOUTS["generic-invoices"].field_of(header) == "number"


def test_two_columns_for_one_field_are_refused_not_guessed() -> None:
    _, problems = match_header(LAYOUTS["xero-invoices"], ["InvoiceNumber", "*InvoiceNumber"])
    assert (
        problems
        and "'InvoiceNumber' and '*InvoiceNumber' both hold the field 'number'" in (problems[0])
    )


def test_missing_fields_allow_a_declared_currency_and_quantity_times_price() -> None:
    layout = LAYOUTS["generic-invoices"]
    found, _ = match_header(layout, ["number", "date", "quantity", "unit_price"])
    assert missing_fields(layout, found, currency=False) == ["currency"]
    assert missing_fields(layout, found, currency=True) == []
    found, _ = match_header(layout, ["number", "date", "quantity"])
    assert missing_fields(layout, found, currency=True) == ["amount"]


def test_a_columns_map_renames_drops_and_refuses_unknown_fields() -> None:
    layout = custom_layout("generic-invoices", None, {"number": "Rechnungsnr.", "total": None})
    assert layout.field_of("Rechnungsnr.") == "number"
    assert layout.field_of("number") is None and "total" not in layout.columns
    payments = custom_layout(None, "payment", {"payment_id": "Beleg"})
    assert payments.object == "payment" and payments.field_of("Beleg") == "payment_id"
    with pytest.raises(LayoutError, match="'totl' is not a field of an invoice"):
        custom_layout("generic-invoices", None, {"totl": "Total"})
    with pytest.raises(LayoutError, match="named for both"):
        custom_layout("generic-invoices", None, {"customer_name": "number"})
    with pytest.raises(LayoutError, match="does not match the layout"):
        custom_layout("generic-invoices", "payment", {})
