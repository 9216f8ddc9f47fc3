"""The files `billbridge init` and `billbridge demo` write: a workspace a person can read.

Why templates with comments: the first billbridge.yaml and mapping.yaml a user sees
teach the concepts (connection, flow, mapping, owner of each account), so they are
written out in full, with every account explicit; nothing falls back silently.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DEMO_BROKEN_RECORD",
    "DemoEditedError",
    "create_demo",
    "create_workspace",
    "demo_edits",
    "note_demo_files",
]

CONFIG_TEMPLATE = """\
# billbridge workspace: connections (systems), flows (what moves where) and the state store.
# Secrets are never written here: reference environment variables, e.g. ${STRIPE_API_KEY}.
connections:
  stripe:
    connector: stripe
    export: exports/stripe.jsonl      # Stripe API objects, one JSON object per line
  books:
    connector: beancount
    path: books/main.beancount        # your ledger; billbridge appends to its own file beside it
{ledger_mode}flows:
  - name: stripe-to-books
    from: stripe
    to: books
    mapping: mapping.yaml             # accounts, tax rates, products
state: .billbridge/state.db           # SQLite by default; or postgresql://user@host/db
"""

MAPPING_TEMPLATE = """\
# How Stripe records become journal entries. Every account is written out: a tax rate or
# product with no rule fails its record (with this file's name in the message), never a default.
entity: default
timezone: {timezone}                # accounting dates are taken in this zone
accounts:
  receivable: Assets:Receivable:Stripe
  clearing: Assets:Stripe:Clearing   # the Stripe balance: payments in, refunds and payouts out
  fees: Expenses:Stripe:Fees
  refunds: Income:Refunds            # contra-revenue
  bank: Assets:Bank:Checking
  revenue: Income:Sales              # lines whose product has no rule under `products`
  unapplied: Liabilities:Customer-Prepayments   # payments that pay no invoice
discounts: net                       # net, or separate (then accounts.discounts is needed)
products:
{products}
tax_rates:
{tax_rates}
"""

_MODES = {
    "sandbox": "    mode: sandbox                     # to try things: mapping edits run at once\n",
    "production": "    mode: production                  # the books: mappings run once promoted\n",
}

DEMO_BROKEN_RECORD = "stripe:invoice:in_demo_unmapped_tax"
_DEMO_UNMAPPED_RATE = "txr_at_vat20"


def _table(rows: Mapping[str, str]) -> str:
    return "\n".join(f"  {k}: {v}" for k, v in rows.items()) or "  {}"


def _write_new(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)
    return path


def create_workspace(
    directory: Path,
    *,
    products: Mapping[str, str] | None = None,
    tax_rates: Mapping[str, str] | None = None,
    timezone: str = "UTC",
    ledger_mode: str | None = None,
) -> list[Path]:
    """Write billbridge.yaml and mapping.yaml (refusing to overwrite); return what was made.

    `ledger_mode` "sandbox" marks the ledger as one to try things on: a changed mapping
    file runs at once there, where production runs only a promoted version.
    """
    config = directory / "billbridge.yaml"
    if config.exists():
        raise FileExistsError(0, "exists", str(config))
    created = [
        _write_new(
            config, CONFIG_TEMPLATE.replace("{ledger_mode}", _MODES.get(ledger_mode or "", ""))
        ),
        _write_new(
            directory / "mapping.yaml",
            MAPPING_TEMPLATE.format(
                timezone=timezone,
                products=_table(products or {}),
                tax_rates=_table(tax_rates or {}),
            ),
        ),
    ]
    (directory / "exports").mkdir(exist_ok=True)
    (directory / "books").mkdir(exist_ok=True)
    return created


def _account_part(text: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in text).strip("-")
    return cleaned[:1].upper() + cleaned[1:]


def _demo_objects(invoices: int) -> Iterator[dict[str, Any]]:
    """The sample export plus one invoice whose tax rate the demo mapping leaves out."""
    from .samples import generate  # noqa: PLC0415

    last_invoice: dict[str, Any] | None = None
    for obj in generate(invoices=invoices, seed=7, api="current"):
        if obj.get("object") == "invoice" and obj.get("status") == "paid":
            last_invoice = obj
        yield obj
    if last_invoice is not None:
        yield _unmapped_tax_invoice(last_invoice)


def _unmapped_tax_invoice(template: dict[str, Any]) -> dict[str, Any]:
    invoice = copy.deepcopy(template)
    invoice["id"] = DEMO_BROKEN_RECORD.rsplit(":", 1)[-1]
    invoice["number"] = "DEMO-9999"
    invoice["status"] = "open"
    invoice["amount_paid"] = 0
    invoice["created"] = int(invoice["created"]) + 60
    for line in invoice["lines"]["data"]:
        line["invoice"] = invoice["id"]
        for tax in line.get("taxes") or []:
            tax["tax_rate_details"] = {"tax_rate": _DEMO_UNMAPPED_RATE}
    return invoice


_DEMO_MARK = ".billbridge-demo"


def create_demo(directory: Path, *, invoices: int = 120) -> str:
    """A workspace with sample Stripe data and a mapping; returns the broken record's key.

    A folder that an earlier demo made (it holds the marker file) is replaced, so the
    README's first command can be run twice, unless a person changed one of its files
    (`DemoEditedError` names them); any other existing workspace is refused.
    """
    from .samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES, write_jsonl  # noqa: PLC0415

    if (directory / _DEMO_MARK).exists():
        edited = demo_edits(directory)
        if edited:
            raise DemoEditedError(directory, edited)
        shutil.rmtree(directory)

    products = {
        p: f"Income:Sales:{_account_part(p.removeprefix('prod_'))}" for p in SAMPLE_PRODUCTS
    }
    tax_rates = {
        r: f"Liabilities:Tax:{_account_part(r.removeprefix('txr_'))}" for r in SAMPLE_TAX_RATES
    }
    create_workspace(
        directory,
        products=products,
        tax_rates=tax_rates,
        timezone="Europe/Berlin",
        ledger_mode="sandbox",  # the README tour: edit the mapping, replay, alone
    )
    write_jsonl(directory / "exports" / "stripe.jsonl", _demo_objects(invoices))
    note_demo_files(directory, _DEMO_FILES)
    return DEMO_BROKEN_RECORD


_DEMO_FILES = ("billbridge.yaml", "mapping.yaml", "exports/stripe.jsonl")


class DemoEditedError(FileExistsError):
    """A demo folder holds edits a person made: `billbridge demo` never wipes them."""

    def __init__(self, directory: Path, edited: list[str]) -> None:
        super().__init__(0, "edited", str(directory))
        self.edited = edited


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def note_demo_files(directory: Path, names: Iterable[str]) -> None:
    """Remember what the demo wrote (its marker lists each file's hash), so a later
    `billbridge demo` in the same folder can tell the demo's files from a person's edits."""
    marker = directory / _DEMO_MARK
    known: dict[str, str] = {}
    if marker.is_file():
        with contextlib.suppress(ValueError):
            known = dict(json.loads(marker.read_text()).get("files", {}))
    known.update({name: _digest(directory / name) for name in names})
    marker.write_text(json.dumps({"made_by": "billbridge demo", "files": known}, indent=1) + "\n")


def demo_edits(directory: Path) -> list[str]:
    """The files of a demo folder changed (or removed) since the demo wrote them; a marker
    that lists no files (an older billbridge's) cannot vouch for any, so all count."""
    try:
        files = dict(json.loads((directory / _DEMO_MARK).read_text()).get("files", {}))
    except (ValueError, OSError, AttributeError):
        files = {}
    if not files:
        return [_DEMO_MARK]
    return sorted(name for name, digest in files.items() if _digest(directory / name) != digest)
