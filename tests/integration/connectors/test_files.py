"""The files source on real files: delimiters, encodings, BOMs, XLSX, grouping, configuration."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from billbridge.config import ConfigError, load_workspace
from billbridge.connectors.base import FatalError, RawRecord
from billbridge.connectors.files import FilesConnection, FilesSource, source_model
from billbridge.connectors.files._read import _xlsx_cell
from billbridge.connectors.source import SourceModel
from billbridge.testing import SourceConformance

HEADER = ["number", "date", "customer_name", "currency", "description", "amount", "tax_rate",
          "tax_amount", "total"]  # fmt: skip
ROWS = [
    ["INV-1", "2026-03-04", "Globex", "EUR", "Consulting; on site", "100.00", "de19", "19.00",
     "149.00"],
    ["INV-1", "2026-03-04", "Globex", "EUR", "Travel", "30.00", "", "", "149.00"],
    ["INV-2", "2026-03-05", "Initech", "USD", "Licence", "50.00", "", "", "50.00"],
]  # fmt: skip


def conn(path: Path, **settings: Any) -> FilesConnection:
    return FilesConnection.model_validate(
        {"connector": "files", "path": str(path), "layout": "generic-invoices", **settings}
    )


def csv_text(delimiter: str, rows: list[list[str]] = ROWS) -> str:
    def cell(text: str) -> str:
        return f'"{text}"' if delimiter in text or ";" in text else text

    return "".join(delimiter.join(cell(c) for c in line) + "\r\n" for line in [HEADER, *rows])


def read(path: Path, **settings: Any) -> list[RawRecord]:
    return list(FilesSource("inv", conn(path, **settings)).read(None))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_the_one_that_gives_the_layouts_headers(
    tmp_path: Path, delimiter: str
) -> None:
    path = tmp_path / "register.csv"
    path.write_text(csv_text(delimiter))
    records = read(path)
    assert [(r.object, r.id, r.data["lines"]) for r in records] == [
        ("invoice", "INV-1", [2, 3]),
        ("invoice", "INV-2", [4]),
    ]
    assert records[0].data["rows"][0]["description"] == "Consulting; on site"
    assert records[0].raw == read(_with(tmp_path, ",", "other.csv"))[0].raw  # content alone


def _with(tmp_path: Path, delimiter: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(csv_text(delimiter))
    return path


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (csv_text(",").encode("utf-8"), None),
        (b"\xef\xbb\xbf" + csv_text(",").encode("utf-8"), None),  # Excel's BOM
        (csv_text(";").replace("Globex", "Société Générale").encode("cp1252"), "cp1252"),
        (csv_text("\t").encode("utf-16"), "utf-16"),  # with its BOM
    ],
)
def test_any_declared_encoding_with_or_without_a_bom(
    tmp_path: Path, data: bytes, encoding: str | None
) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes(data)
    records = read(path, **({"encoding": encoding} if encoding else {}))
    assert [r.id for r in records] == ["INV-1", "INV-2"]
    assert records[0].data["columns"]["number"] == "number"  # no BOM glued to the header
    name = records[0].data["rows"][0]["customer_name"]
    assert name in {"Globex", "Société Générale"}


def test_a_file_not_in_its_encoding_stops_with_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes(csv_text(",").replace("Initech", "Müller").encode("cp1252"))
    with pytest.raises(FatalError, match=r"register.csv, line 4: byte 0xfc is not utf-8 text; "
                                         r"declare the file's `encoding:`"):  # fmt: skip
        read(path)


def test_a_missing_required_column_is_a_configuration_error_naming_file_and_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "register.csv"
    path.write_text("number,date,customer_name,amount\nINV-1,2026-03-04,Globex,10.00\n")
    with pytest.raises(FatalError) as caught:
        read(path)
    text = str(caught.value)
    assert text.startswith("configuration error: register.csv cannot be read")
    assert "the layout generic-invoices needs the column 'currency'" in text
    assert "its columns: 'number', 'date', 'customer_name', 'amount'" in text
    assert read(path, currency="EUR")  # a declared currency stands in for the column


def test_in_a_folder_a_file_that_cannot_be_read_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("number;date\nX;2026-03-04\n")
    (tmp_path / "b.csv").write_text(csv_text(","))
    (tmp_path / "notes.txt").write_text("not an export")
    records = read(tmp_path, archive=False)
    assert [(r.object, r.id) for r in records] == [
        ("file", "a.csv"), ("invoice", "INV-1"), ("invoice", "INV-2")]  # fmt: skip
    assert "needs the column 'currency'" in records[0].error


def test_a_header_no_delimiter_explains_is_refused_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text("Nummer:Datum\n1:2\n")
    with pytest.raises(FatalError, match="names none of the columns of the layout"):
        read(path)


def test_documents_are_consecutive_rows_and_a_number_names_one(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    rows = [ROWS[0], ROWS[2], ROWS[1], ["", "2026-03-06", "X", "EUR", "y", "1.00", "", "", ""]]
    path.write_text(csv_text(",", rows))
    records = read(path)
    assert [(r.id, r.data.get("duplicate"), r.error[:40]) for r in records] == [
        ("INV-1", [[2], [4]], ""),
        ("INV-2", None, ""),
        ("register.csv#5", None, "register.csv, line 5, column 'number': t"),
    ]


def test_payments_are_one_row_each_and_a_repeated_id_is_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "payments.csv"
    path.write_text(
        "payment_id,date,invoice_number,currency,amount,fee\n"
        "P-1,2026-03-10,INV-1,EUR,149.00,1.00\nP-1,2026-03-10,INV-1,EUR,149.00,1.00\n"
    )
    (record,) = read(path, layout="generic-payments")
    assert record.object == "payment" and record.data["duplicate"] == [[2], [3]]


def test_quoted_cells_spanning_lines_keep_the_line_numbers_right(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    rows = [[*ROWS[2][:4], "two\nlines", *ROWS[2][5:]], ROWS[0]]
    text = csv_text(",", rows).replace("two\nlines", '"two\nlines"')
    path.write_text(text)
    records = read(path)
    assert [(r.id, r.data["lines"]) for r in records] == [("INV-2", [2]), ("INV-1", [4])]


def test_xlsx_cells_arrive_typed_and_floats_only_through_their_text(tmp_path: Path) -> None:
    assert _xlsx_cell(0.1 + 0.2) == {"n": "0.30000000000000004"}
    assert _xlsx_cell(12) == {"n": "12"} and _xlsx_cell(None) == ""
    assert _xlsx_cell(datetime(2026, 3, 4, 15, 30)) == {"d": "2026-03-04"}
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Invoices"
    sheet.append(HEADER)
    sheet.append(["INV-1", datetime(2026, 3, 4), "Globex", "EUR", "x", 100.5, "", "", 100.5])
    sheet.append([])  # an empty row: skipped, line numbers kept
    sheet.append([1001, datetime(2026, 3, 5), "Initech", "USD", "y", 7, "", "", 7])
    book.create_sheet("Notes")
    path = tmp_path / "register.xlsx"
    book.save(path)
    records = read(path, sheet="Invoices")
    assert [(r.id, r.data["lines"]) for r in records] == [("INV-1", [2]), ("1001", [4])]
    assert records[0].data["rows"][0]["amount"] == {"n": "100.5"}
    assert records[0].data["rows"][0]["date"] == {"d": "2026-03-04"}
    model = source_model(conn(path))
    done = model.normalize(records[0].data, record="k", resolve=lambda _o, _i, /: None)
    assert done.value is not None and str(done.value.total.amount) == "100.50"
    with pytest.raises(FatalError, match="no sheet 'Sheet9' \\(sheets: Invoices, Notes\\)"):
        read(path, sheet="Sheet9")


@pytest.mark.parametrize(
    ("setting", "field", "says"),
    [
        ("locale: xx_NOPE", "locale", "'xx_NOPE' is not a locale babel knows"),
        ('date_format: "%d.%m."', "date_format", "must name the day (%d), the month (%m)"),
        ("encoding: klingon", "encoding", "'klingon' is not a text encoding"),
        ("currency: EURO", "currency", "'EURO' is not an ISO 4217 currency code"),
        ("timezone: Mars/Base", "timezone", "'Mars/Base' is not a time zone"),
        ("layout: quickbook-invoices", "invoices", "layout 'quickbook-invoices' is not known"),
        ("columns: {totl: Total}", "invoices", "'totl' is not a field of an invoice"),
    ],
)
def test_a_wrong_declaration_is_refused_at_load_naming_the_line_and_key(
    tmp_path: Path, setting: str, field: str, says: str
) -> None:
    lines = ["connector: files", "path: inbox/", "layout: generic-invoices", "locale: de_DE"]
    key = setting.split(":", 1)[0]
    lines = [ln for ln in lines if not ln.startswith(f"{key}:")] + [setting]
    (tmp_path / "billbridge.yaml").write_text(
        "connections:\n  invoices:\n" + "".join(f"    {ln}\n" for ln in lines)
        + "  books: {connector: beancount, path: books/main.beancount}\n"
        "flows:\n  - {name: f, from: invoices, to: books, mapping: mapping.yaml}\n"
    )  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_workspace(tmp_path)
    text = str(caught.value)
    assert "billbridge.yaml:" in text and "connections.invoices" in text and field in text
    assert says in text, text


# -- the conformance suite every source passes ----------------------------------------------

GOOD = """\
number;date;customer_id;customer_name;customer_country;currency;description;quantity;unit_price;amount;tax_rate;tax_amount;total
RE-1;04.03.2026;C1;Globex GmbH;DE;EUR;Beratung;2;500,00;1.000,00;de19;190,00;1.309,00
RE-1;04.03.2026;C1;Globex GmbH;DE;EUR;Reise;1;100,00;100,00;de19;19,00;1.309,00
RE-2;05.03.2026;C2;Initech Inc;US;USD;Lizenz;1;1.234,56;1.234,56;;;1.234,56
"""
PAYMENTS = """\
payment_id;date;invoice_number;currency;amount;fee
P-1;10.03.2026;RE-1;EUR;1.309,00;2,50
P-2;11.03.2026;;USD;10,00;0
"""
REFUNDS = """\
refund_id;date;payment_id;invoice_number;currency;amount;reason
F-1;12.03.2026;P-1;;EUR;9,00;requested_by_customer
"""
CREDITS = """\
number;date;invoice_number;currency;description;amount;tax_rate;tax_amount;total;refunded
CN-1;20.03.2026;RE-1;EUR;Reise erstattet;100,00;de19;19,00;119,00;0
"""
BAD = """\
number;date;customer_id;customer_name;customer_country;currency;description;quantity;unit_price;amount;tax_rate;tax_amount;total
RE-8;04.03.2026;C1;Globex GmbH;DE;EUR;Beratung;1;10,00;10,0x;;;10,00
RE-9;2026-03-04;C1;Globex GmbH;DE;EUR;Beratung;1;10,00;10,00;;;10,00
RE-10;04.03.2026;C1;Globex GmbH;DE;EURO;Beratung;1;10,00;10,00;;;10,00
RE-11;04.03.2026;C1;Globex GmbH;DE;EUR;Beratung;1;10,00;10,00;;;10,00
RE-12;04.03.2026;C1;Globex GmbH;DE;EUR;Beratung;1;10,00;10,00;;;10,00
RE-11;04.03.2026;C1;Globex GmbH;DE;EUR;Beratung;1;10,00;10,00;;;10,00
"""


class TestFilesSourceConformance(SourceConformance):
    connection = "inv"

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "exports"
        self.folder.mkdir()
        for name, text in (("1-invoices.csv", GOOD), ("2-payments.csv", PAYMENTS),
                           ("3-refunds.csv", REFUNDS), ("4-credits.csv", CREDITS)):  # fmt: skip
            (self.folder / name).write_text(text)
        (tmp_path / "bad.csv").write_text(BAD)
        self.bad = tmp_path / "bad.csv"

    def _conn(self, path: Path) -> FilesConnection:
        return FilesConnection.model_validate({
            "connector": "files", "path": str(path), "archive": False, "locale": "de_DE",
            "date_format": "%d.%m.%Y", "timezone": "Europe/Berlin",
            "layout": ["generic-invoices", "generic-payments", "generic-refunds",
                       "generic-credit-notes"],
        })  # fmt: skip

    def source_model(self) -> SourceModel:
        return source_model(self._conn(self.folder))

    def good_records(self) -> list[RawRecord]:
        records = list(FilesSource(self.connection, self._conn(self.folder)).read(None))
        assert {r.object for r in records} == {"invoice", "payment", "refund", "credit_note"}
        return records

    def bad_records(self) -> list[RawRecord]:
        records = list(FilesSource(self.connection, self._conn(self.bad)).read(None))
        assert [r.id for r in records] == ["RE-8", "RE-9", "RE-10", "RE-11", "RE-12"]
        return [r for r in records if r.id != "RE-12"]
