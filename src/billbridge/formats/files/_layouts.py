"""Column maps ("layouts"): which column of an export file holds which canonical field.

Why named layouts: finance teams export invoice registers from the tool they use, and
each tool names its columns its own way. A layout says, per canonical field, the header
(or the few headers) the tool writes, and which fields a file must have. The ready-made
ones follow the vendors' published names (kept as test data in
tests/data/import_templates.json, so these constants are checked against them):

- `generic-invoices`, `generic-credit-notes`, `generic-payments`, `generic-refunds`:
  billbridge's own, one canonical field per column, header = field name;
- `xero-invoices`: Xero's sales-invoice CSV (Sales > Invoices > Export, and the
  SalesInvoiceTemplate.csv of its import, whose required columns carry a `*`);
- `quickbooks-invoices`: QuickBooks Online's invoice import columns (Settings >
  Import data > Invoices), under the names Intuit's sample file and mapping screen use.

Headers are matched by their letters and digits only, case-folded: `*InvoiceNumber`,
`Invoice number` and `invoice_number` are one header. Pure data and functions; the
reader (connectors/files) applies them to a file's header row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "FIELDS",
    "GENERIC_INVOICE_COLUMNS",
    "GENERIC_PAYMENT_COLUMNS",
    "GROUPED",
    "IDENTITY",
    "LAYOUTS",
    "Layout",
    "LayoutError",
    "ObjectKind",
    "custom_layout",
    "header_key",
    "match_header",
    "missing_fields",
]

ObjectKind = Literal["invoice", "credit_note", "payment", "refund"]

# Every field a layout may map, per object, in the order messages list them.
FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "invoice": (
        "key",
        "number",
        "date",
        "due_date",
        "status",
        "customer_id",
        "customer_name",
        "customer_country",
        "customer_tax_id",
        "currency",
        "description",
        "product",
        "quantity",
        "unit_price",
        "amount",
        "tax_rate",
        "tax_amount",
        "total",
        "amount_paid",
    ),
    "credit_note": (
        "key",
        "number",
        "date",
        "invoice_number",
        "status",
        "customer_id",
        "currency",
        "description",
        "product",
        "amount",
        "tax_rate",
        "tax_amount",
        "total",
        "refunded",
        "reason",
    ),
    "payment": (
        "payment_id",
        "date",
        "invoice_number",
        "customer_id",
        "currency",
        "amount",
        "fee",
        "method",
    ),
    "refund": (
        "refund_id",
        "date",
        "payment_id",
        "invoice_number",
        "currency",
        "amount",
        "reason",
    ),
}

# Objects whose records span several rows (one per line), grouped by their identity.
GROUPED: Final = frozenset({"invoice", "credit_note"})

# The field holding a record's identity (an invoice's `key` wins over its `number`).
IDENTITY: Final[Mapping[str, tuple[str, ...]]] = {
    "invoice": ("key", "number"),
    "credit_note": ("key", "number"),
    "payment": ("payment_id",),
    "refund": ("refund_id",),
}

# Fields every file of the object must have (a line amount may also be quantity x price,
# and the currency may come from the connection's `currency:`).
_REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "invoice": ("number", "date", "currency", "amount"),
    "credit_note": ("number", "date", "invoice_number", "currency", "amount"),
    "payment": ("payment_id", "date", "currency", "amount"),
    "refund": ("refund_id", "date", "payment_id", "currency", "amount"),
}


class LayoutError(ValueError):
    """A layout or a `columns:` map that cannot work; the message says what to change."""


def header_key(text: str) -> str:
    """A header as it is matched: letters and digits only, case-folded."""
    return re.sub(r"[\W_]+", "", text.casefold())


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """Which headers hold which fields of one kind of object.

    `columns[field]` lists the headers that may hold it (the first is the name shown in
    messages); `date_format` is the layout's own date format, used when the connection
    declares none.
    """

    name: str
    object: ObjectKind
    columns: Mapping[str, tuple[str, ...]]
    date_format: str | None = None
    source: str = ""
    _keys: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, headers in self.columns.items():
            for header in headers:
                self._keys[header_key(header)] = name

    @property
    def grouped(self) -> bool:
        return self.object in GROUPED

    def field_of(self, header: str) -> str | None:
        """The field a file's header holds under this layout, or None."""
        return self._keys.get(header_key(header))


def match_header(layout: Layout, header: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """(field → column index, problems) for a file's header row under `layout`.

    Two columns that read as one field are a problem (the file would be read by a guess).
    """
    found: dict[str, int] = {}
    problems: list[str] = []
    for index, text in enumerate(header):
        name = layout.field_of(text)
        if name is None:
            continue
        if name in found:
            first = header[found[name]]
            problems.append(
                f"the columns {first!r} and {text!r} both hold the field {name!r}; "
                "remove one, or name the columns with a `columns:` map"
            )
            continue
        found[name] = index
    return found, problems


def missing_fields(layout: Layout, present: Mapping[str, int], *, currency: bool) -> list[str]:
    """Required fields the file lacks; `currency` True when the connection declares one."""
    missing = []
    for name in _REQUIRED[layout.object]:
        if name in present:
            continue
        if name == "currency" and currency:
            continue
        if name == "amount" and {"quantity", "unit_price"} <= present.keys():
            continue
        missing.append(name)
    return missing


def _generic(name: str, kind: ObjectKind) -> Layout:
    fields = [f for f in FIELDS[kind] if f != "key"]
    return Layout(name=name, object=kind, columns={f: (f,) for f in fields})


GENERIC_INVOICE_COLUMNS: Final = (
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
GENERIC_PAYMENT_COLUMNS: Final = (
    "payment_id",
    "date",
    "invoice_number",
    "currency",
    "amount",
    "fee",
)

XERO_INVOICES: Final = Layout(
    name="xero-invoices",
    object="invoice",
    columns={
        "number": ("InvoiceNumber",),
        "date": ("InvoiceDate",),
        "due_date": ("DueDate",),
        "status": ("Status",),
        "customer_name": ("ContactName",),
        "customer_country": ("POCountry",),
        "currency": ("Currency",),
        "description": ("Description",),
        "product": ("InventoryItemCode",),
        "quantity": ("Quantity",),
        "unit_price": ("UnitAmount",),
        "amount": ("LineAmount",),
        "tax_rate": ("TaxType",),
        "tax_amount": ("TaxAmount",),
        "total": ("Total",),
        "amount_paid": ("InvoiceAmountPaid",),
    },
    date_format="%d/%m/%Y",
    source="Xero Central, 'Import or create invoices using a CSV file' and the invoice export",
)

QUICKBOOKS_INVOICES: Final = Layout(
    name="quickbooks-invoices",
    object="invoice",
    columns={
        "number": ("Invoice number", "InvoiceNo", "Invoice no"),
        "date": ("Invoice date",),
        "due_date": ("Due date",),
        "customer_name": ("Customer",),
        "currency": ("Currency", "Currency code"),
        "description": ("Item description",),
        "product": ("Item (Product/Service)",),
        "quantity": ("Item quantity",),
        "unit_price": ("Item rate",),
        "amount": ("Item amount",),
        "tax_rate": ("Item tax code",),
        "tax_amount": ("Item tax amount",),
    },
    date_format="%m/%d/%Y",
    source="QuickBooks Online, 'Import invoices' (Settings > Import data > Invoices)",
)

LAYOUTS: Final[Mapping[str, Layout]] = {
    layout.name: layout
    for layout in (
        Layout(
            name="generic-invoices",
            object="invoice",
            columns={
                f: (f,)
                for f in (
                    *GENERIC_INVOICE_COLUMNS,
                    "due_date",
                    "status",
                    "customer_tax_id",
                    "product",
                    "amount_paid",
                )
            },
        ),
        Layout(
            name="generic-payments",
            object="payment",
            columns={f: (f,) for f in (*GENERIC_PAYMENT_COLUMNS, "customer_id", "method")},
        ),
        _generic("generic-credit-notes", "credit_note"),
        _generic("generic-refunds", "refund"),
        XERO_INVOICES,
        QUICKBOOKS_INVOICES,
    )
}

_GENERIC_OF: Final[Mapping[str, str]] = {
    "invoice": "generic-invoices",
    "credit_note": "generic-credit-notes",
    "payment": "generic-payments",
    "refund": "generic-refunds",
}


def custom_layout(
    base: str | None, kind: ObjectKind | None, columns: Mapping[str, str | None]
) -> Layout:
    """A `columns:` map: `base` (or the generic layout of `kind`) with headers renamed.

    `columns[field] = header` names the one header that holds the field; `None` (or "")
    drops the field. Unknown fields are refused, naming the fields there are.
    """
    if base is not None:
        start = LAYOUTS[base]
        if kind is not None and kind != start.object:
            raise LayoutError(
                f"`object: {kind}` does not match the layout {base!r} ({start.object})"
            )
    else:
        start = LAYOUTS[_GENERIC_OF[kind or "invoice"]]
    known = FIELDS[start.object]
    renamed = dict(start.columns)
    for name, header in columns.items():
        if name not in known:
            what = start.object.replace("_", " ")
            raise LayoutError(
                f"{name!r} is not a field of {'an' if what[0] in 'aeiou' else 'a'} {what} "
                f"(fields: {', '.join(known)})"
            )
        if header is None or not str(header).strip():
            renamed.pop(name, None)
        else:
            renamed[name] = (str(header).strip(),)
    seen: dict[str, str] = {}
    for name, headers in renamed.items():
        for header in headers:
            other = seen.setdefault(header_key(header), name)
            if other != name:
                raise LayoutError(f"the header {header!r} is named for both {other!r} and {name!r}")
    return Layout(
        name=f"{start.name} with columns",
        object=start.object,
        columns=renamed,
        date_format=start.date_format,
    )
