"""Stripe's redaction for GDPR erasure: a customer's data out of every object that names it,
amounts, numbers, dates and tax ids kept, and the same stand-ins every time."""

from __future__ import annotations

import orjson

from billbridge.formats.stripe import SOURCE_MODEL

ERASED = frozenset({"customer:cus_1"})
CUSTOMER = {"id": "cus_1", "object": "customer", "name": "Ann Lee", "email": "ann@x.example",
            "phone": "+49 30 1", "address": {"line1": "Allee 1", "city": "Berlin"},
            "description": "Ann's shop",
            "tax_ids": {"data": [{"value": "DE136695976"}]}}  # fmt: skip
INVOICE = {"id": "in_1", "object": "invoice", "customer": "cus_1", "number": "HB-0001",
           "customer_name": "Ann Lee", "customer_email": "ann@x.example",
           "customer_address": {"line1": "Allee 1"}, "total": 11900, "created": 1,
           "customer_tax_ids": [{"type": "eu_vat", "value": "DE136695976"}]}  # fmt: skip
INTENT = {"id": "pi_1", "object": "payment_intent", "customer": {"id": "cus_1"},
          "receipt_email": "ann@x.example", "amount": 11900,
          "charges": {"data": [{"id": "ch_1", "object": "charge", "customer": "cus_1",
                                "billing_details": {"name": "Ann Lee", "email": "ann@x.example",
                                                    "address": {"line1": "Allee 1"}},
                                "amount": 11900}]}}  # fmt: skip


def test_every_object_naming_the_customer_loses_its_personal_data_and_keeps_the_figures() -> None:
    redact, subjects = SOURCE_MODEL.redact, SOURCE_MODEL.subjects
    assert redact is not None and subjects is not None
    for data in (CUSTOMER, INVOICE, INTENT):
        assert subjects(data) == ["customer:cus_1"]
        out = redact(data, ERASED)
        text = orjson.dumps(out).decode()
        for personal in ("Ann Lee", "ann@x.example", "Allee 1", "+49 30 1", "Ann's shop"):
            assert personal not in text, (data["id"], personal)
        assert redact(data, ERASED) == out  # deterministic: the same bytes each sync
    invoice = redact(INVOICE, ERASED)
    assert (invoice["total"], invoice["number"], invoice["customer_tax_ids"]) == (
        11900,
        "HB-0001",
        INVOICE["customer_tax_ids"],
    )
    assert redact(CUSTOMER, ERASED)["tax_ids"] == CUSTOMER["tax_ids"]
    assert redact(INVOICE, frozenset({"customer:cus_2"})) == INVOICE
    assert subjects({"id": "po_1", "object": "payout"}) == []
