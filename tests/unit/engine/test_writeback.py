"""Write-back requests: what is checked offline, and what makes a new version or key."""

from __future__ import annotations

import pytest

from billbridge.engine.writeback import (
    invoice_request,
    is_writeback_flow,
    queue_flow,
    writeback_key,
)
from billbridge.engine.writeback_input import CustomerInputError, customer_request

RECORD = {
    "name": "Globex",
    "email": "ap@globex.example",
    "metadata": {"billbridge_key": "crm:customer:7"},
}


def test_the_version_follows_the_content() -> None:
    a = customer_request("stripe", RECORD)
    assert a.record_key == "crm:customer:7"
    assert a.version == customer_request("stripe", dict(RECORD)).version
    assert a.version != customer_request("stripe", {**RECORD, "name": "Globex Corp"}).version
    assert "billbridge_key" not in a.fields.get("metadata", {})  # the connector adds it


def test_keys_change_with_the_attempt_only_after_a_refusal() -> None:
    key = writeback_key("crm:customer:7", "v1", "push-customer")
    assert key == writeback_key("crm:customer:7", "v1", "push-customer", 1)
    assert key != writeback_key("crm:customer:7", "v1", "push-customer", 2)
    assert key != writeback_key("crm:customer:7", "v2", "push-customer")
    assert key.startswith("billbridge-push-customer-")


def test_queue_flows_cannot_be_flow_names() -> None:
    flow = queue_flow("stripe", "void")
    assert is_writeback_flow(flow)
    assert ":" in flow  # a real flow's name matches ^[a-z0-9][a-z0-9_-]*$
    assert not is_writeback_flow("stripe-to-books")


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ([], "(record)"),
        ({**RECORD, "metadata": {"billbridge_key": "42"}}, "metadata.billbridge_key"),
        ({**RECORD, "email": "not-an-email"}, "email"),
        ({**RECORD, "name": ""}, "name"),
        ({**RECORD, "tax_exempt": "maybe"}, "tax_exempt"),
        ({**RECORD, "address": {"street": "x"}}, "address.street"),
        ({**RECORD, "tax_ids": [{"type": "VAT", "value": "DE136695976"}]}, "tax_ids[0].type"),
        ({**RECORD, "metadata": {"billbridge_key": "crm:c:1", "n": 5}}, "metadata.n"),
    ],
)
def test_bad_records_name_their_field(record: object, field: str) -> None:
    with pytest.raises(CustomerInputError) as raised:
        customer_request("stripe", record, source="crm.json")
    assert raised.value.field == field
    assert str(raised.value).startswith(f"crm.json: field `{field}`")


def test_tax_ids_are_sent_compact() -> None:
    record = {**RECORD, "tax_ids": [{"type": "eu_vat", "value": "DE 136 695 976"}]}
    assert customer_request("stripe", record).fields["tax_id_data"] == [
        {"type": "eu_vat", "value": "DE136695976"}
    ]


def test_invoice_requests_need_an_invoice_id() -> None:
    assert invoice_request("live", "void", "in_1").record_key == "live:invoice:in_1"
    with pytest.raises(ValueError, match="not a Stripe invoice id"):
        invoice_request("live", "void", "ch_1")
