"""Stripe's source model passes the source conformance suite (`billbridge.testing`).

Good records: a generated export in both API shapes the normalizer claims (customers,
invoices, charges, refunds, credit notes, payouts, and the reference objects they look
up). Bad records: the sample's deliberate faults that normalizing must catch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson
import pytest

from billbridge.connectors.base import RawRecord
from billbridge.connectors.source import Normalized, SourceModel
from billbridge.domain import Problem
from billbridge.formats.stripe import SOURCE_MODEL
from billbridge.samples import Api, generate
from billbridge.testing import SourceConformance

BAD = ("in_fault_bad_currency", "in_fault_total_mismatch")


def _raw(obj: dict[str, Any]) -> RawRecord:
    return RawRecord(
        object=str(obj["object"]), id=str(obj["id"]), data=obj, raw=orjson.dumps(obj), position=""
    )


def _event(obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"id": f"evt_{obj['id']}", "type": f"{obj['object']}.updated",
                         "created": obj["created"], "data": {"object": obj}})  # fmt: skip


class _Stripe(SourceConformance):
    connection = "stripe"
    api: Api = "current"

    def source_model(self) -> SourceModel:
        return SOURCE_MODEL

    def _all(self) -> list[dict[str, Any]]:
        return list(generate(invoices=12, seed=3, api=self.api, faults=True))

    def good_records(self) -> Sequence[RawRecord]:
        return [_raw(o) for o in self._all() if "fault" not in o["id"]]

    def bad_records(self) -> Sequence[RawRecord]:
        return [_raw(o) for o in self._all() if o["id"] in BAD]

    def events(self) -> Sequence[bytes]:
        return [_event(o) for o in self._all()[:20]]


class TestStripeCurrentShape(_Stripe):
    api = "current"


class TestStripe20170815Shape(_Stripe):
    api = "2017-08-15"


def test_the_suite_catches_payments_filed_under_another_object() -> None:
    class Wrong(_Stripe):
        def source_model(self) -> SourceModel:
            return replace(SOURCE_MODEL, payment_object="payment")

    with pytest.raises(AssertionError):
        Wrong().test_records_are_filed_under_the_keys_the_engine_relates()


def test_the_suite_catches_a_normalizer_that_raises_or_forgets_the_field() -> None:
    def raising(data: Any, *, record: str, resolve: Any) -> Normalized:
        raise KeyError("object")

    def fieldless(data: Any, *, record: str, resolve: Any) -> Normalized:
        return Normalized(value=None, problems=(Problem(record=record, field="", message="bad"),))

    class Raising(_Stripe):
        def source_model(self) -> SourceModel:
            return replace(SOURCE_MODEL, normalize=raising)

    class Fieldless(_Stripe):
        def source_model(self) -> SourceModel:
            return replace(SOURCE_MODEL, normalize=fieldless)

    with pytest.raises(KeyError):
        Raising().test_normalize_never_raises()
    with pytest.raises(AssertionError, match="names no field"):
        Fieldless().test_bad_records_fail_alone_naming_the_field()
