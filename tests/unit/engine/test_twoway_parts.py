"""Pure parts of two-way sync and erasure: comparable values, upgrades, suppression."""

from __future__ import annotations

from decimal import Decimal

import orjson

from billbridge.connectors.base import RawRecord
from billbridge.connectors.bottlecrm import project, raw_bytes, redact, subjects
from billbridge.domain import Address, Deal, Money
from billbridge.engine.erase import suppress
from billbridge.engine.notify import is_upgrade
from billbridge.engine.privacy import hashed
from billbridge.engine.twoway_values import comparable, from_comparable, shown


def test_values_compare_as_the_same_field_whatever_their_spelling() -> None:
    assert comparable("email", " AP@Hooli.example ") == comparable("email", "ap@hooli.example")
    assert comparable("name", "Hooli ") == comparable("name", "Hooli")
    assert comparable("name", "Hooli") != comparable("name", "hooli")
    here = Address(city="Berlin", country="de", line1="Allee 1")
    assert comparable("address", here) == comparable("address", Address(
        city="Berlin ", country="DE", line1="Allee 1"))  # fmt: skip
    assert from_comparable("address", comparable("address", here), Address()) == Address(
        city="Berlin", country="DE", line1="Allee 1")  # fmt: skip
    assert from_comparable("email", '"x@y.example"', "") == "x@y.example"
    assert shown(comparable("address", here)) == "Allee 1, Berlin, DE"
    assert shown(None) == "(never synced)"


def deal(plan: str, amount: str, *, won: bool = True) -> Deal:
    return Deal(id="d", name="x", customer="a", stage="CLOSED_WON", won=won, plan=plan,
                amount=Money(Decimal(amount), "EUR"))  # fmt: skip


def test_an_upgrade_is_a_won_deal_moving_to_a_plan_worth_more() -> None:
    assert is_upgrade(deal("pro", "49.00"), deal("business", "99.00"))
    assert not is_upgrade(deal("business", "99.00"), deal("pro", "49.00"))  # a downgrade
    assert not is_upgrade(deal("pro", "49.00"), deal("pro", "99.00"))  # same plan
    assert not is_upgrade(deal("pro", "49.00"), deal("business", "99.00", won=False))
    assert not is_upgrade(None, deal("business", "99.00"))


def test_a_record_of_an_erased_subject_is_redacted_into_the_same_bytes_each_time() -> None:
    data = project("customer", {"id": "acc-1", "name": "Hooli", "email": "ap@hooli.example"})
    raw = RawRecord(object="customer", id="acc-1", data=data, raw=raw_bytes(data), position="")
    erased = frozenset({"customer:acc-1"})
    once, twice = suppress(raw, subjects, redact, erased), suppress(raw, subjects, redact, erased)
    assert once.raw == twice.raw and b"Hooli" not in once.raw
    assert orjson.loads(once.raw)["id"] == "acc-1"
    assert suppress(raw, subjects, redact, frozenset({"customer:other"})) is raw


def test_hashes_are_salted_per_subject() -> None:
    assert hashed("s1", "x") == hashed("s1", "x") != hashed("s2", "x")
    assert hashed("s1", "x").startswith("sha256:") and "x" not in hashed("s1", "x")[7:8]
