"""A related invoice is normalized once per snapshot, and again when a new version arrives."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from billbridge.engine.book_checks import BookChecks
from billbridge.formats.stripe import normalize
from billbridge.samples import generate


def _first_invoice() -> dict[str, Any]:
    return next(o for o in generate(invoices=3, seed=2) if o["object"] == "invoice")


def test_normalized_once_per_snapshot_and_again_for_a_new_version() -> None:
    snapshots: dict[str, Mapping[str, Any]] = {}
    calls: list[str] = []

    def counting(data: Mapping[str, Any], *, record: str, resolve: Any) -> Any:
        calls.append(record)
        return normalize(data, record=record, resolve=resolve)

    def resolve(obj: str, ident: str) -> Mapping[str, Any] | None:
        return snapshots.get(ident) if obj == "invoice" else None

    flow = SimpleNamespace(source=SimpleNamespace(name="stripe"), normalize=counting)
    checks = BookChecks(flow=flow, store=None, resolve=resolve, dry_run=True)  # type: ignore[arg-type]
    first = _first_invoice()
    ident = first["id"]
    snapshots[ident] = first

    one = checks.invoice(ident)
    two = checks.invoice(ident)
    assert one is not None and two is one
    assert calls == [f"stripe:invoice:{ident}"]  # the second ask normalized nothing

    changed = copy.deepcopy(first)
    changed["customer_name"] = "Renamed GmbH"
    snapshots[ident] = changed  # a new version: a new snapshot object
    three = checks.invoice(ident)
    assert len(calls) == 2
    assert three is not None and three.customer_name == "Renamed GmbH"
    assert checks.invoice("in_unknown") is None
