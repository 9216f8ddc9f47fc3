"""The conformance suite of a source model: what the engine relies on from a normalizer.

Why: the engine knows no source's fields, so everything it does with a source's records
rests on a few promises of its `SourceModel` (connectors/source.py):

- `normalize` never raises, whatever the data: a defect is a `Problem` naming the record
  and the field, so one bad record fails alone;
- it is pure: the same data gives the same canonical object;
- records are filed under the keys the engine relates them by: an `Invoice` under the
  object `invoice` with its own id, a `Payment` under the model's `payment_object`, a
  `CreditNote` under `credit_note`, each canonical object's `id` being its record's id
  (a payment waits for `<connection>:invoice:<payment.invoice>` to post);
- `lookups` and `aliases` give `object:id` strings;
- `describe` (when given) agrees with the canonical object on number and date;
- `parse_event` (when given) turns each sample event into a record to process.

Use it from a test module with the source's real records (read by the real source,
or as its export would hold them)::

    from billbridge.testing import SourceConformance

    class TestFilesSource(SourceConformance):
        connection = "invoices"
        def source_model(self): return files_model(config)
        def good_records(self): return list(FilesSource("invoices", config).read(None))
        def bad_records(self): return [...]   # each must fail with a Problem on a field
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from billbridge.connectors.base import RawRecord
from billbridge.connectors.source import NormalizedLike, SourceModel
from billbridge.domain import Canonical, CreditNote, Invoice, Payment, Refund, Severity

__all__ = ["SourceConformance"]

_GARBAGE: tuple[Mapping[str, Any], ...] = (
    {},
    {"id": None},
    {"id": 7, "object": ["x"], "amount": "lots", "currency": 3, "created": "yesterday"},
    {"lines": {"data": [None, 1, "x"]}, "items": None, "total": {"value": "NaN"}},
)


class SourceConformance:
    """Subclass; implement `source_model`, `good_records` and `bad_records`."""

    connection = "source"

    def source_model(self) -> SourceModel:
        raise NotImplementedError("a SourceConformance subclass must implement source_model")

    def good_records(self) -> Sequence[RawRecord]:
        """Records that normalize cleanly, related ones among them (an invoice and its payment)."""
        raise NotImplementedError("a SourceConformance subclass must implement good_records")

    def bad_records(self) -> Sequence[RawRecord]:
        """Records each of which must fail with at least one error Problem on a named field."""
        raise NotImplementedError("a SourceConformance subclass must implement bad_records")

    def events(self) -> Sequence[bytes]:
        """Stored webhook payloads, when the source takes events (`parse_event`)."""
        return ()

    # -- helpers ---------------------------------------------------------------------------

    def _key(self, raw: RawRecord) -> str:
        return f"{self.connection}:{raw.object}:{raw.id}"

    def _normalize_all(
        self, records: Sequence[RawRecord]
    ) -> list[tuple[RawRecord, NormalizedLike]]:
        model = self.source_model()
        held: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in records:
            held[raw.object, raw.id] = raw.data
            for make in (model.aliases.get(raw.object),):
                for alias in make(raw.data) if make else ():
                    obj, _, ident = alias.partition(":")
                    held[obj, ident] = raw.data

        def resolve(obj: str, ident: str, /) -> Mapping[str, Any] | None:
            return held.get((obj, ident))

        return [
            (raw, model.normalize(raw.data, record=self._key(raw), resolve=resolve))
            for raw in records
        ]

    # -- the promises ----------------------------------------------------------------------

    def test_good_records_normalize_without_errors_or_waits(self) -> None:
        records = self.good_records()
        assert records, "give at least one good record"
        values = 0
        for raw, done in self._normalize_all(records):
            errors = [p for p in done.problems if p.severity is Severity.ERROR]
            assert not errors, (self._key(raw), errors)
            assert done.waiting_on is None, (self._key(raw), done.waiting_on, done.reason)
            values += done.value is not None
        assert values, "no good record gave a canonical object"

    def test_normalize_is_pure(self) -> None:
        first = [done.value for _, done in self._normalize_all(self.good_records())]
        again = [done.value for _, done in self._normalize_all(self.good_records())]
        assert first == again

    def test_bad_records_fail_alone_naming_the_field(self) -> None:
        records = self.bad_records()
        assert records, "give at least one bad record (a wrong amount, a missing field)"
        good = self.good_records()  # related records the bad ones may look up
        for raw, done in self._normalize_all([*good, *records])[len(good) :]:
            errors = [p for p in done.problems if p.severity is Severity.ERROR]
            assert errors, f"{self._key(raw)} should fail with a problem"
            assert done.value is None, f"{self._key(raw)} has errors and a value"
            for problem in errors:
                assert problem.record == self._key(raw)
                assert problem.field, f"{self._key(raw)}: the problem names no field"
                assert problem.message

    def test_normalize_never_raises(self) -> None:
        model = self.source_model()
        for data in _GARBAGE:
            done = model.normalize(data, record="x:y:z", resolve=lambda _o, _i, /: None)
            assert done.value is None or not [
                p for p in done.problems if p.severity is Severity.ERROR
            ]

    def test_records_are_filed_under_the_keys_the_engine_relates(self) -> None:
        model = self.source_model()
        for raw, done in self._normalize_all(self.good_records()):
            value: Canonical | None = done.value
            if value is None:
                continue
            assert value.id == raw.id, (self._key(raw), value.id)
            if isinstance(value, Invoice):
                assert raw.object == "invoice", self._key(raw)
            elif isinstance(value, CreditNote):
                assert raw.object == "credit_note", self._key(raw)
            elif isinstance(value, Payment):
                assert raw.object == model.payment_object, (self._key(raw), model.payment_object)
            elif isinstance(value, Refund):
                assert value.payment, f"{self._key(raw)}: a refund names its payment"

    def test_lookups_and_aliases_give_object_and_id(self) -> None:
        model = self.source_model()
        for raw in self.good_records():
            for table in (model.lookups, model.aliases):
                make = table.get(raw.object)
                for key in make(raw.data) if make else ():
                    obj, sep, ident = key.partition(":")
                    assert obj, (self._key(raw), key)
                    assert sep, (self._key(raw), key)
                    assert ident, (self._key(raw), key)

    def test_describe_agrees_with_the_canonical_object(self) -> None:
        model = self.source_model()
        if model.describe is None:
            return  # the engine reads the canonical object itself
        for raw, done in self._normalize_all(self.good_records()):
            described = model.describe(raw.data)
            value = done.value
            if isinstance(value, Invoice | CreditNote):
                assert described.number == value.number, self._key(raw)
            created = getattr(value, "created", None)
            if created is not None and described.created is not None:
                assert described.created == created, self._key(raw)

    def test_events_parse_into_records(self) -> None:
        model = self.source_model()
        events = self.events()
        if not events:
            return
        assert model.parse_event is not None, "events given, but the model has no parse_event"
        for payload in events:
            raw = model.parse_event(payload)
            assert raw.object, raw
            assert raw.id, raw
            assert not raw.error, raw
