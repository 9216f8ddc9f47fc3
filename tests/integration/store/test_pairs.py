"""The two-way and erasure tables (migration 0100) on SQLite and PostgreSQL: links, field
bases, conflicts and notices written with a batch, read back; an erasure rewrites every
occurrence of a person's text in one transaction and the audit chain still verifies."""

from __future__ import annotations

import orjson

from billbridge.store import Batch, Store
from billbridge.store.base import (
    AuditEvent,
    ErasurePlan,
    archive_link,
    base_statement,
    conflict_statement,
    link_statement,
    notification_statement,
)

from .conftest import at
from .test_store import outcome, posting, problem, record


def test_links_bases_conflicts_and_notices_round_trip(store: Store) -> None:
    run = store.start_run(flow="crm-to-stripe", kind="live", actor="system")
    batch = Batch()
    batch.statements += [
        link_statement("crm|stripe", "customer", "crm:customer:1", "stripe:customer:cus_1", at(1)),
        base_statement(
            "crm|stripe", "crm:customer:1", "email", '{"a": "\\"x\\"", "b": "\\"x\\""}', at(1)
        ),
        conflict_statement(
            pair="crm|stripe",
            a_key="crm:customer:1",
            b_key="stripe:customer:cus_1",
            field="name",
            base='"Old"',
            a_value='"A"',
            b_value='"B"',
            a_at=at(2),
            b_at=at(3),
            a_actor="crm",
            b_actor="stripe",
            flow="crm-to-stripe",
            record_key="crm:customer:1",
            at=at(4),
        ),
        notification_statement("plan_upgrade", "crm:deal:7@v2", '{"account": "Hooli"}', at(5)),
    ]
    batch.postings.append(posting(1, run.id))
    store.commit(batch)
    link = store.link_of("crm|stripe", "stripe:customer:cus_1")
    assert link is not None and (link.a_key, link.status) == ("crm:customer:1", "active")
    assert link.other("crm:customer:1") == "stripe:customer:cus_1"
    assert store.field_bases("crm|stripe", "crm:customer:1") == {
        "email": '{"a": "\\"x\\"", "b": "\\"x\\""}'
    }
    (conflict,) = store.conflicts_of_record("crm-to-stripe", "crm:customer:1")
    assert (conflict.base, conflict.a_value, conflict.b_value, conflict.b_at) == (
        '"Old"',
        '"A"',
        '"B"',
        at(3),
    )
    assert store.postings_writing(["books/billbridge.beancount:100", "nothing"])[0].record_key == (
        "stripe:invoice:in_1"
    )
    (notice,) = store.pending_notifications()
    store.mark_notification(notice.id, sent_at=at(6))
    assert store.pending_notifications() == []
    store.commit_statements([archive_link("crm|stripe", "crm:customer:1", at(7))],
                            [AuditEvent(actor="ana", action="archived", at=at(7))])  # fmt: skip
    assert store.links_of_pair("crm|stripe", "customer") == []
    assert [x.status for x in store.links_for_key("crm:customer:1")] == ["archived"]


def test_an_erasure_rewrites_every_occurrence_and_keeps_the_chain(store: Store) -> None:
    run = store.start_run(flow="crm-to-stripe", kind="live", actor="system")
    batch = Batch()
    batch.records.append(record(1, version="v1", minute=1))
    batch.postings.append(posting(1, run.id))  # summary "… — Globex Corp"
    batch.outcomes.append(outcome(1, run.id, "failed", error="Globex Corp has no tax id"))
    batch.exceptions.append(problem(1, 1, error="Globex Corp has no tax id"))
    batch.audit.append(AuditEvent(actor="system", action="posted", record_key="stripe:invoice:in_1",
                                  at=at(1)))  # fmt: skip
    store.commit(batch)
    store.inbox_add(event_id="ev1", connection="stripe", type="invoice.paid",
                    object_key="stripe:invoice:in_1", created=1,
                    payload=orjson.dumps({"name": "Globex Corp"}))  # fmt: skip
    salt = store.subject_salt("stripe:customer:cus_1")
    assert store.subject_salt("stripe:customer:cus_1") == salt
    plan = ErasurePlan(
        records=[("stripe:invoice:in_1", b'{"id": "in_1"}', "v9", "v1")],
        replace=[("Globex Corp", "erased-abc")],
        subjects=[("stripe:customer:cus_1", "stripe")],
        salts=["stripe:customer:cus_1"],
    )
    counts = store.apply_erasure(plan, AuditEvent(actor="ada", action="erased",
                                                  record_key="stripe:customer:cus_1"))  # fmt: skip
    assert counts["postings"] == 1 and counts["exceptions"] == 1 and counts["inbox"] == 1
    store.compact()
    assert "Globex" not in store.postings_for("stripe:invoice:in_1")[0].summary
    assert "erased-abc has no tax id" in store.open_exceptions()[0].error
    assert b"Globex" not in store.inbox_of_connection("stripe")[0][2]
    row = store.get_record("stripe:invoice:in_1")
    assert row is not None and (row.snapshot, row.version) == (b'{"id": "in_1"}', "v9")
    assert store.erased_subjects() == {"stripe:customer:cus_1": "stripe"}
    assert store.subject_salt("stripe:customer:cus_1") != salt  # the old salt is gone
    assert store.verify_audit().ok
