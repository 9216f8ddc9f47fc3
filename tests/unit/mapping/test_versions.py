"""Stored mapping content reloads to its version; the diff speaks of meaning, not lines."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from billbridge.mapping.model import Mapping, load_mapping
from billbridge.mapping.versions import (
    VersionContentError,
    content_of,
    diff_mappings,
    mapping_from_content,
)

FULL = """\
# a comment that is not part of the version
entity: de
timezone: Europe/Berlin
currency: EUR
accounts:
  receivable: Assets:Receivable
  clearing: Assets:Clearing
  fees: Expenses:Fees
  refunds: Income:Refunds
  bank: Assets:Bank
  revenue: Income:Sales
products:
  prod_pro: Income:Sales:Pro
  prod_basic: Income:Sales:Basic
tax_rates:
  txr_de19: Liabilities:VAT:DE-19
fields:
  series: metadata.series
fx:
  file: rates.csv
  rates:
    - {date: 2026-03-02, pair: USD/EUR, rate: "0.9000"}
  gain: Income:FX-Gain
  loss: Expenses:FX-Loss
tax_rules:
  - {rate: txr_de19, country: DE, account: Liabilities:VAT:DE-19, report_code: "81"}
  - {country: AT, account: Liabilities:VAT:EU, reverse_charge_code: "21"}
entities:
  - {name: de, prefix: DE, currency: EUR, country: DE, match: {country: [DE, AT]}}
  - {name: us, prefix: US, currency: USD, match: {currency: [USD]}}
"""


def _load(tmp_path: Path, text: str, name: str = "mapping.yaml") -> Mapping:
    (tmp_path / "rates.csv").write_text("date,pair,rate\n2026-03-10,USD/EUR,0.8500\n")
    path = tmp_path / name
    path.write_text(text)
    return load_mapping(path)


def test_content_reloads_to_the_same_version(tmp_path: Path) -> None:
    mapping = _load(tmp_path, FULL)
    content = content_of(mapping)
    again = mapping_from_content(content, path=tmp_path / "mapping.yaml", version=mapping.version)
    assert again.version == mapping.version
    assert again == mapping
    # the rates file was read into the content: the reload does not need it any more
    (tmp_path / "rates.csv").unlink()
    assert len(mapping_from_content(content, path=tmp_path / "m.yaml", version=mapping.version)
               .fx.rates) == 2  # type: ignore[union-attr]  # fmt: skip


def test_a_minimal_mapping_keeps_its_old_version(tmp_path: Path) -> None:
    text = FULL.split("products:", maxsplit=1)[0].replace("currency: EUR\n", "")
    mapping = _load(tmp_path, text)
    assert mapping_from_content(content_of(mapping), path=mapping.path,
                                version=mapping.version).version == mapping.version  # fmt: skip


def test_content_changed_outside_billbridge_is_refused(tmp_path: Path) -> None:
    mapping = _load(tmp_path, FULL)
    data = orjson.loads(content_of(mapping))
    data["tax_rates"]["txr_de19"] = "Liabilities:VAT:Elsewhere"
    with pytest.raises(VersionContentError, match="hashes to"):
        mapping_from_content(orjson.dumps(data).decode(), path=mapping.path,
                             version=mapping.version)  # fmt: skip
    with pytest.raises(VersionContentError, match="not a valid mapping"):
        mapping_from_content('{"timezone": "Mars/Base"}', path=mapping.path, version="x")


def test_diff_lists_each_change_of_meaning(tmp_path: Path) -> None:
    old = _load(tmp_path, FULL, "old.yaml")
    new_text = (
        FULL.replace("# a comment that is not part of the version\n", "")
        .replace("txr_de19: Liabilities:VAT:DE-19\n", "txr_de19: Liabilities:VAT:DE-19-New\n"
                 "  txr_at20: Liabilities:VAT:AT-20\n")
        .replace("  prod_pro: Income:Sales:Pro\n", "")
        .replace("fees: Expenses:Fees", "fees: Expenses:Bank-Fees")
        .replace('report_code: "81"', 'report_code: "86"')
        .replace("prefix: US,", "prefix: USA,")
        .replace('rate: "0.9000"', 'rate: "0.9100"')
    )  # fmt: skip
    new = _load(tmp_path, new_text, "new.yaml")
    found = {(c.section, c.key, c.kind): (c.before, c.after) for c in diff_mappings(old, new)}
    assert found == {
        ("accounts", "fees", "changed"): ("Expenses:Fees", "Expenses:Bank-Fees"),
        ("tax_rates", "txr_at20", "added"): ("", "Liabilities:VAT:AT-20"),
        ("tax_rates", "txr_de19", "changed"): (
            "Liabilities:VAT:DE-19", "Liabilities:VAT:DE-19-New"),
        ("products", "prod_pro", "removed"): ("Income:Sales:Pro", ""),
        ("tax_rules", "rate=txr_de19 country=DE", "changed"): (
            "Liabilities:VAT:DE-19 (report_code 81)", "Liabilities:VAT:DE-19 (report_code 86)"),
        ("entities", "us", "changed"): (
            "match currency in ['USD'], prefix US, currency USD",
            "match currency in ['USD'], prefix USA, currency USD"),
        ("fx.rates", "2026-03-02 USD/EUR", "changed"): ("0.9000", "0.9100"),
    }  # fmt: skip
    assert diff_mappings(old, old) == ()
    lines = [c.describe() for c in diff_mappings(old, new)]
    assert "~ accounts.fees: Expenses:Fees -> Expenses:Bank-Fees" in lines
    assert "- products.prod_pro: Income:Sales:Pro" in lines


def test_a_comment_or_key_order_is_no_new_version(tmp_path: Path) -> None:
    old = _load(tmp_path, FULL, "old.yaml")
    lines = FULL.splitlines(keepends=True)
    reordered = "".join([lines[2], lines[1], "# moved\n", *lines[3:]])
    assert _load(tmp_path, reordered, "new.yaml").version == old.version
