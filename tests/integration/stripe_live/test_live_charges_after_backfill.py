"""Charges and refunds made after a backfill post, each once (issue 13, finding 3).

A charge an event or a webhook names carries its balance transaction as an id, and no
event ever brings a balance transaction; a `charge.refunded` event carries the charge,
not the refund. The live source fetches what each needs (the balance transaction,
expanded; the charge's refunds, listed) through the Stripe connector, so nothing waits
for a record that will never come. The objects are real (localstripe, made with the
official SDK); the charge events are added by `_events_feed` (localstripe sends none)
and signed webhooks are built from the same objects, as Stripe would send them.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import stripe

from billbridge.config import load_workspace
from billbridge.connectors.base import RawRecord
from billbridge.connectors.stripe_api import StripeApi, StripeApiSource
from billbridge.engine.run import process_records, sync_flow
from billbridge.service.stripe_webhooks import create_webhook_app
from billbridge.wiring import flows, open_workspace_store

from ..store.conftest import raw
from ._data import customer, fill
from ._events_feed import events_feed
from ._webhooks import KEY, SECRET, event, serving, signature, wait_for, webhook_workspace
from .conftest import TEST_KEY
from .test_backfill import OBJECTS, _amount, _cli, _postings, _workspace

CHARGES = 40
REFUNDS = 10


def _charges_and_refunds(client: stripe.StripeClient) -> tuple[dict[str, int], dict[str, int]]:
    """40 one-off charges of one customer, 10 of them partly refunded: ids -> amounts."""
    cus, pm = customer(client, "after-backfill")
    for n in range(CHARGES):
        pi = client.v1.payment_intents.create(
            params={"amount": 2000 + n, "currency": "eur", "customer": cus, "payment_method": pm}
        )
        client.v1.payment_intents.confirm(pi.id)
    listed = client.v1.charges.list(params={"customer": cus, "limit": 100}).data
    charges = {c.id: c.amount for c in listed if c.status == "succeeded"}
    assert len(charges) == CHARGES
    refunds: dict[str, int] = {}
    for n, charge_id in enumerate(sorted(charges)[:REFUNDS]):
        refund = client.v1.refunds.create(params={"charge": charge_id, "amount": 100 + n})
        refunds[refund.id] = refund.amount
    return charges, refunds


def _as_sent(client: stripe.StripeClient, charge_id: str) -> dict[str, Any]:
    """The charge as an event's `data.object` carries it: its balance transaction an id."""
    data: dict[str, Any] = client.v1.charges.retrieve(charge_id).to_dict()
    assert isinstance(data["balance_transaction"], str)
    return data


def _check_ledger(
    by_key: dict[str, list[Any]], charges: dict[str, int], refunds: dict[str, int]
) -> None:
    for charge_id, amount in charges.items():
        (entry,) = by_key[f"stripe:charge:{charge_id}"]
        assert _amount(entry, "Assets:Stripe:Clearing") == Decimal(amount) / 100
    for refund_id, amount in refunds.items():
        (entry,) = by_key[f"stripe:refund:{refund_id}"]
        assert _amount(entry, "Assets:Stripe:Clearing") == -Decimal(amount) / 100


def test_charges_and_refunds_from_events_after_a_backfill_post_once(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    fill(stripe_client, customers=2)
    with events_feed(localstripe) as feed:
        root = _workspace(tmp_path / "ws", feed.url)
        code, result = _cli(root, "sync", "--backfill")
        assert code == 0, result
        before = _postings(root)

        charges, refunds = _charges_and_refunds(stripe_client)
        now = int(time.time())
        for charge_id in charges:
            feed.add(_as_sent(stripe_client, charge_id), type="charge.succeeded", created=now)
        refunded = {stripe_client.v1.refunds.retrieve(r).charge for r in refunds}
        for charge_id in sorted(refunded):  # type: ignore[type-var]
            feed.add(
                _as_sent(stripe_client, str(charge_id)), type="charge.refunded", created=now + 1
            )

        code, result = _cli(root, "sync")
        assert code == 0, result
        assert result["counts"]["held"] == 0 and result["counts"]["failed"] == 0
        assert result["posted"] == CHARGES + REFUNDS
        by_key = _postings(root)
        new = Counter(k.split(":")[1] for k in set(by_key) - set(before))
        assert new == {"charge": CHARGES, "refund": REFUNDS}
        _check_ledger(by_key, charges, refunds)
        code, queue = _cli(root, "queue")
        assert queue == []

        code, again = _cli(root, "sync")  # the events are read: nothing is posted twice
        assert code == 0 and again["posted"] == 0
        assert _postings(root).keys() == by_key.keys()


def test_charges_and_refunds_from_webhooks_after_a_backfill_post_once(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    fill(stripe_client, customers=2)
    root = webhook_workspace(tmp_path / "ws", api_base=localstripe).root
    config = root / "billbridge.yaml"  # localstripe has no credit notes to backfill
    config.write_text(
        config.read_text().replace(
            f"    api_base: {localstripe}\n",
            f"    api_base: {localstripe}\n    objects: {OBJECTS}\n",
        )
    )
    workspace = load_workspace(root, env={"STRIPE_API_KEY": KEY, "STRIPE_WEBHOOK_SECRET": SECRET})
    store = open_workspace_store(workspace)
    try:
        with flows(workspace) as lookup:
            backfill = sync_flow(lookup("stripe-to-books"), store, backfill=True)
        assert backfill.counts["held"] == 0 and not backfill.stopped
    finally:
        store.close()
    charges, refunds = _charges_and_refunds(stripe_client)
    refunded = sorted({str(stripe_client.v1.refunds.retrieve(r).charge) for r in refunds})
    payloads = []
    now = int(time.time())
    for n, charge_id in enumerate(charges):
        obj = _as_sent(stripe_client, charge_id)
        payloads.append(event(obj, type="charge.succeeded", created=now, ident=f"evt_c{n}"))
    for n, charge_id in enumerate(refunded):
        obj = _as_sent(stripe_client, charge_id)
        payloads.append(event(obj, type="charge.refunded", created=now + 1, ident=f"evt_r{n}"))

    app = create_webhook_app(workspace, flow="stripe-to-books")
    with serving(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        for payload in payloads:
            answer = http.post(
                "/webhooks/stripe",
                content=payload,
                headers={"Stripe-Signature": signature(payload)},
            )
            assert answer.status_code == 200, answer.text

        def settled() -> bool:
            store = open_workspace_store(workspace)
            try:
                return store.inbox_pending("stripe") == []
            finally:
                store.close()

        assert wait_for(settled, timeout=60)
    store = open_workspace_store(workspace)
    try:
        assert [r for r in store.open_exceptions() if r.kind == "held"] == []
    finally:
        store.close()
    by_key = _postings(workspace.root)
    assert Counter(k.split(":")[1] for k in by_key if k.split(":")[2] in charges) == {
        "charge": CHARGES
    }
    _check_ledger(by_key, charges, refunds)


def test_a_run_that_stops_between_a_charge_and_its_refund_reads_the_event_again(
    stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    """The records one event brings (a refunded charge, then its refunds) move the cursor
    past the event only with the last of them: resuming from the charge's position reads
    the event again and gives the refund."""
    cus, pm = customer(stripe_client, "refunded")
    with events_feed(localstripe) as feed:
        source = StripeApiSource(
            "stripe",
            StripeApi(api_key=TEST_KEY, api_base=feed.url),
            objects=["customers", "charges", "refunds"],
        )
        backfilled = list(source.read(None))
        cursor = backfilled[-1].position
        pi = stripe_client.v1.payment_intents.create(
            params={"amount": 4200, "currency": "eur", "customer": cus, "payment_method": pm}
        )
        stripe_client.v1.payment_intents.confirm(pi.id)
        (charge,) = [
            c for c in stripe_client.v1.charges.list(params={"customer": cus}).data
            if c.amount == 4200
        ]  # fmt: skip
        refund = stripe_client.v1.refunds.create(params={"charge": charge.id, "amount": 700})
        feed.add(
            _as_sent(stripe_client, charge.id), type="charge.refunded", created=int(time.time())
        )

        read = [r for r in source.read(cursor) if r.object in {"charge", "refund"}]
        assert [(r.object, r.id) for r in read] == [("charge", charge.id), ("refund", refund.id)]
        assert isinstance(read[0].data["balance_transaction"], dict)  # expanded
        again = [(r.object, r.id) for r in source.read(read[0].position)]
        assert ("refund", refund.id) in again
        assert [r for r in source.read(read[1].position) if r.object == "refund"] == []


def test_charges_held_by_an_older_billbridge_post_on_retry_or_before_timing_out(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    """Charges held "waiting for balance transaction" by a billbridge without this fix
    (their stored copy names it by id, and it never arrives): `retry` and the run that
    would time the hold out first ask the source for it, and the charge posts."""
    fill(stripe_client, customers=1)
    root = _workspace(tmp_path / "ws", localstripe)
    code, result = _cli(root, "sync", "--backfill")
    assert code == 0, result
    charges, _ = _charges_and_refunds(stripe_client)
    first, second = sorted(charges)[REFUNDS : REFUNDS + 2]  # two charges with no refund
    workspace = load_workspace(root, env={"STRIPE_API_KEY": TEST_KEY})
    store = open_workspace_store(workspace)
    try:
        with flows(workspace) as lookup:
            flow = lookup("stripe-to-books")
            old = [
                RawRecord(object="charge", id=c, data=d, raw=orjson.dumps(d), position="")
                for c in (first, second)
                for d in [_as_sent(stripe_client, c)]
            ]
            process_records(flow, store, old, actor="old-billbridge", kind="live", action="read")
        held = {r.record_key: r for r in store.open_exceptions()}
        assert {r.kind for r in held.values()} == {"held"}
        assert held[f"stripe:charge:{first}"].error.startswith("waiting for balance transaction")
        with raw(store) as conn:  # the second one has waited 4 days
            mark = "?" if store.dialect == "sqlite" else "%s"
            then = store._ts(datetime.now(UTC) - timedelta(days=4))  # type: ignore[attr-defined]
            conn.execute(
                f"UPDATE exceptions SET held_since = {mark} WHERE record_key = {mark}",
                (then, f"stripe:charge:{second}"),
            )
        row_id = held[f"stripe:charge:{first}"].id
    finally:
        store.close()

    code, result = _cli(root, "retry", str(row_id))
    assert code == 0, result
    code, queue = _cli(root, "queue")
    assert [row["record"] for row in queue] == [f"stripe:charge:{second}"]
    code, result = _cli(root, "sync")
    assert code == 0, result
    assert result["counts"]["synced"] >= 1 and result["counts"]["failed"] == 0
    code, queue = _cli(root, "queue")
    assert queue == []
    by_key = _postings(root)
    for charge_id in (first, second):
        (entry,) = by_key[f"stripe:charge:{charge_id}"]
        assert _amount(entry, "Assets:Stripe:Clearing") == Decimal(charges[charge_id]) / 100
