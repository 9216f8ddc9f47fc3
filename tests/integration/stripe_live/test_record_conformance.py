"""Stripe's customers pass the record-target conformance suite, against localstripe."""

from __future__ import annotations

from dataclasses import replace

import pytest

from billbridge.connectors.records import RecordTarget
from billbridge.connectors.stripe_api import StripeApi, StripeRecordTarget
from billbridge.domain import Address, Canonical, Customer
from billbridge.testing import RecordTargetConformance

from .conftest import TEST_KEY


class TestStripeCustomersConformance(RecordTargetConformance):
    base = ""

    @pytest.fixture(autouse=True)
    def _localstripe(self, localstripe: str) -> None:
        self.base = localstripe

    def open_records(self) -> RecordTarget:
        api = StripeApi(api_key=TEST_KEY, api_version="2017-08-15", api_base=self.base)
        return StripeRecordTarget("stripe", api)

    def sample(self, n: int) -> Canonical:
        return Customer(
            id=f"C{n}",
            name=f"Client {n} GmbH",
            email=f"ap{n}@client.example",
            address=Address(country="DE", city="Berlin", postal_code="10115", line1="Allee 1"),
        )

    def changed(self, value: Canonical) -> Canonical:
        assert isinstance(value, Customer)
        return replace(value, email="finance@client.example")
