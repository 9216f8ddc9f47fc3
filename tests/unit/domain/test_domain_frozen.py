"""fast_init: the domain's frozen values keep their dataclass behaviour, built faster."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from datetime import date
from decimal import Decimal

import pytest

import billbridge.domain as domain
from billbridge.domain import (
    DomainError,
    JournalEntry,
    Money,
    Posting,
    Problem,
    TaxAmount,
    fast_init,
)


def fast_classes() -> list[type]:
    return [
        value
        for name in domain.__all__
        if inspect.isclass(value := getattr(domain, name))
        and dataclasses.is_dataclass(value)
        and vars(value)["__init__"].__code__.co_filename == "<string>"
        and "_set_" in " ".join(vars(value)["__init__"].__code__.co_names)
    ]


def test_the_hot_values_have_it() -> None:
    names = {cls.__name__ for cls in fast_classes()}
    assert {"Invoice", "InvoiceLine", "TaxAmount", "Payment", "Problem", "Posting"} <= names


@pytest.mark.parametrize("cls", fast_classes(), ids=lambda c: c.__name__)
def test_the_signature_is_the_fields_keyword_only_with_their_defaults(cls: type) -> None:
    params = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    for p, f in zip(params, fields, strict=True):
        expected = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert p.default is expected
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"


def tax() -> TaxAmount:
    return TaxAmount(rate="txr_1", amount=Money.from_minor(1900, "EUR"))


def test_values_stay_frozen_and_equal() -> None:
    t = tax()
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.rate = "other"  # type: ignore[misc]
    assert t == tax()
    assert hash(t) == hash(tax())
    assert t.percentage is None and t.inclusive is False and t.jurisdiction == ""
    assert dataclasses.replace(t, inclusive=True).inclusive is True
    assert pickle.loads(pickle.dumps(t)) == t
    assert repr(t).startswith("TaxAmount(rate='txr_1', amount=Money(")


def test_wrong_arguments_are_refused_as_before() -> None:
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'amount'"):
        TaxAmount(rate="txr_1")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        Problem(record="r", field="f", message="m", bogus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        Problem("r", "f", "m")  # type: ignore[misc]


def test_post_init_still_refuses_an_unbalanced_entry() -> None:
    with pytest.raises(DomainError, match="does not balance"):
        JournalEntry(
            date=date(2024, 1, 1),
            narration="n",
            postings=(Posting(account="Assets:Bank", amount=Money(Decimal("1.00"), "EUR")),),
            key="k",
            source="s",
            version="v",
        )


def test_classes_it_cannot_treat_alike_are_refused() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True, kw_only=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Positional:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Factory:
        a: tuple[int, ...] = dataclasses.field(default_factory=tuple)

    for cls in (NoSlots, NotFrozen, Positional, Factory, int):
        with pytest.raises(TypeError, match="fast_init"):
            fast_init(cls)
