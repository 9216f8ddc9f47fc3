"""The conformance suite of a record target: a system that keeps records (a CRM, Stripe).

Why: a record flow is exactly-once only if the target keeps its promises
(connectors/records.py): an object it created carries our record key and is found by
it (and only by it); an update changes the object in place; what is read back holds
what was written; `fields` is pure. Run it against the real system where one runs here
(Stripe via localstripe, a CRM in its own process), never against a fake::

    from billbridge.testing import RecordTargetConformance

    class TestCrmConformance(RecordTargetConformance):
        def open_records(self): return CrmRecords("crm", base_url)
        def sample(self, n): return Customer(id=f"c{n}", name=f"Client {n}", email=...)
        def changed(self, value): return replace(value, email="new@example.com")

Each test uses record keys of its own (`conformance:customer:<test>-<n>`), so the suite
can run against a system that is not emptied between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from billbridge.connectors.records import RecordTarget
from billbridge.domain import Canonical

__all__ = ["RecordTargetConformance"]


class RecordTargetConformance:
    """Subclass; implement `open_records`, `sample` and `changed`."""

    object = "customer"

    def open_records(self) -> RecordTarget:
        raise NotImplementedError("a RecordTargetConformance subclass must implement open_records")

    def sample(self, n: int) -> Canonical:
        """A canonical object the target keeps (its `fields` is not None); n makes it unique."""
        raise NotImplementedError("a RecordTargetConformance subclass must implement sample")

    def changed(self, value: Canonical) -> Canonical:
        """The same object with at least one written field changed."""
        raise NotImplementedError("a RecordTargetConformance subclass must implement changed")

    # -- helpers ---------------------------------------------------------------------------

    def _key(self) -> str:
        return f"conformance:{self.object}:{uuid.uuid4().hex[:12]}"

    def _fields(self, target: RecordTarget, value: Canonical, key: str) -> Mapping[str, Any]:
        fields = target.fields(value, record_key=key)
        assert fields is not None, "sample() must give an object the target keeps"
        return fields

    # -- the promises ----------------------------------------------------------------------

    def test_fields_are_pure(self) -> None:
        target = self.open_records()
        try:
            key = self._key()
            assert target.fields(self.sample(1), record_key=key) == target.fields(
                self.sample(1), record_key=key
            )
        finally:
            target.close()

    def test_a_created_object_is_found_by_our_key_alone(self) -> None:
        target = self.open_records()
        try:
            key, other = self._key(), self._key()
            fields = self._fields(target, self.sample(2), key)
            assert target.find(self.object, key, fields) is None
            made = target.create(self.object, key, fields, idempotency_key=f"{key}|1")
            assert made.id
            found = target.find(self.object, key, fields)
            assert found is not None
            assert found.id == made.id
            assert target.find(self.object, other, fields) is None, "matched by fields, not key"
        finally:
            target.close()

    def test_what_is_written_is_read_back(self) -> None:
        target = self.open_records()
        try:
            key = self._key()
            fields = self._fields(target, self.sample(3), key)
            made = target.create(self.object, key, fields, idempotency_key=f"{key}|1")
            back = target.read(self.object, made.id)
            assert back is not None
            assert back.id == made.id
            assert target.differences(fields, back.fields) == ()
        finally:
            target.close()

    def test_an_update_changes_the_same_object(self) -> None:
        target = self.open_records()
        try:
            key = self._key()
            first = self._fields(target, self.sample(4), key)
            made = target.create(self.object, key, first, idempotency_key=f"{key}|1")
            second = self._fields(target, self.changed(self.sample(4)), key)
            assert second != first, "changed() must change a written field"
            updated = target.update(self.object, made.id, key, second, idempotency_key=f"{key}|2")
            assert updated.id == made.id
            back = target.read(self.object, made.id)
            assert back is not None
            assert target.differences(second, back.fields) == ()
            found = target.find(self.object, key, second)
            assert found is not None
            assert found.id == made.id
        finally:
            target.close()

    def test_differences_name_what_is_missing_or_other(self) -> None:
        target = self.open_records()
        try:
            key = self._key()
            fields = dict(self._fields(target, self.sample(5), key))
            name = sorted(fields)[0]
            assert target.differences(fields, {}) != ()
            other = {**fields, name: "something else entirely"}
            assert name in ",".join(target.differences(other, fields))
        finally:
            target.close()
