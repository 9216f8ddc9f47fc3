"""The files source's `SourceModel`: normalizer, look-ups and `describe` for one connection.

Why a function of the settings: how amounts and dates are written (locale, date format,
time zone, default currency) is the connection's, so each connection gets its own model
(`files_model(settings)`); the engine only calls it.

Records are filed under the objects the engine relates: `invoice` and `credit_note`
(id: the key column, else the document number), `payment` (the model's
`payment_object`) and `refund`. A payment names its invoice by that id, so it waits for
`<connection>:invoice:<id>` to post, as a Stripe charge waits for its invoice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billbridge.connectors.source import Described, Normalized, Resolve, SourceModel
from billbridge.domain import InvoiceStatus, Problem

from ._cells import RecordCells, Settings, cell_text
from ._normalize import STATUS_WORDS, _moment, document, payment, refund

__all__ = ["describe_with", "files_model", "normalize_with"]


def _first(data: Mapping[str, Any]) -> Mapping[str, Any]:
    rows = data.get("rows")
    if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
        return rows[0]
    return {}


def _duplicate(data: Mapping[str, Any], record: str, settings: Settings) -> Normalized:
    c = RecordCells(data, record=record, settings=settings)
    groups = [g for g in data.get("duplicate") or [] if isinstance(g, list) and g]
    spans = [f"line {g[0]}" if len(g) == 1 else f"lines {g[0]}-{g[-1]}" for g in groups]
    kind = str(data.get("object", "record")).replace("_", " ")
    field = "key" if "key" in c.columns else "number"
    if kind in ("payment", "refund"):
        field = f"{kind}_id"
    ident = cell_text(_first(data).get(field, ""))
    problem = Problem(
        record=record,
        field=c.header(field),
        message=(
            f"{c.file or 'the file'}, column {c.header(field)!r}: the {kind} {ident!r} appears "
            f"more than once ({' and '.join(spans)}); the rows of one {kind} must be "
            "consecutive and a number must name one document, so none of them is imported"
        ),
        hint="give each document its own number (or remove the repeated rows), then import "
        "the file again",
    )
    return Normalized(value=None, problems=(problem,))


def normalize_with(settings: Settings) -> Any:
    """The normalizer for one connection's settings (see `billbridge.connectors.source`)."""

    def normalize(data: Mapping[str, Any], *, record: str, resolve: Resolve) -> Normalized:
        try:
            kind = data.get("object")
            if data.get("duplicate"):
                return _duplicate(data, record, settings)
            if kind in ("invoice", "credit_note"):
                doc, problems = document(data, record=record, settings=settings, kind=kind)
                return Normalized(value=doc, problems=problems)
            if kind == "payment":
                pay, problems = payment(data, record=record, settings=settings)
                return Normalized(value=pay, problems=problems)
            if kind == "refund":
                paid = resolve("payment", cell_text(_first(data).get("payment_id", "")))
                of_payment = cell_text(_first(paid).get("invoice_number", "")) if paid else None
                ref, problems = refund(
                    data, record=record, settings=settings, invoice_of_payment=of_payment
                )
                return Normalized(value=ref, problems=problems)
            message = f"{kind!r} is not a kind of record the files connector reads"
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            message = f"could not read the record: {type(exc).__name__}: {exc}"
        return Normalized(
            value=None,
            problems=(
                Problem(
                    record=record,
                    field="object",
                    message=message,
                    hint="import the file again; report the record if it persists",
                ),
            ),
        )

    return normalize


def describe_with(settings: Settings) -> Any:
    """Number, date (noon in the connection's zone) and status, read off the first row."""

    def describe(data: Mapping[str, Any]) -> Described:
        first = _first(data)
        kind = data.get("object")
        c = RecordCells(data, record="", settings=settings)
        try:
            day = c.day(0, "date") if first else None
        except (ValueError, TypeError, AttributeError):
            day = None
        word = " ".join(cell_text(first.get("status", "")).casefold().split())
        draft = STATUS_WORDS.get(word) is InvoiceStatus.DRAFT and kind == "invoice"
        return Described(
            number=cell_text(first.get("number", "")) if kind in ("invoice", "credit_note") else "",
            created=_moment(day, settings) if day is not None else None,
            status="draft" if draft else "",
        )

    return describe


def _invoice_of(data: Mapping[str, Any]) -> list[str]:
    number = cell_text(_first(data).get("invoice_number", ""))
    return [f"invoice:{number}"] if number else []


def _payment_of(data: Mapping[str, Any]) -> list[str]:
    paid = cell_text(_first(data).get("payment_id", ""))
    return [f"payment:{paid}"] if paid else []


def files_model(settings: Settings) -> SourceModel:
    """Everything the engine needs of a files connection's records."""
    return SourceModel(
        normalize=normalize_with(settings),
        lookups={"payment": _invoice_of, "credit_note": _invoice_of, "refund": _payment_of},
        describe=describe_with(settings),
        payment_object="payment",
    )
