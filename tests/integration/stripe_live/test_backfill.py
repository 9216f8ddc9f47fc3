"""Backfill a localstripe account into a Beancount ledger through the real CLI.

Data is made with the official SDK: customers with paid monthly subscriptions (whose
invoices localstripe creates and pays), one-off payment intents and partial refunds.
The ledger must hold each invoice, payment and refund exactly once, with its amount,
and bean-check clean; a second run posts nothing; a later invoice arrives through
`/v1/events` and is posted once.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import stripe
from beancount import loader
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.connectors.stripe_api import StripeApi, StripeApiSource
from billbridge.workspace_files import create_workspace

from ._data import customer, fill
from .conftest import TEST_KEY

OBJECTS = "[customers, balance_transactions, invoices, payment_intents, charges, refunds, payouts]"


def _workspace(root: Path, api_base: str, *, mode: str = "sandbox") -> Path:
    create_workspace(root)
    config = root / "billbridge.yaml"
    text = config.read_text().replace(
        "    export: exports/stripe.jsonl      # Stripe API objects, one JSON object per line\n",
        f"    mode: {mode}\n    api_key: ${{STRIPE_API_KEY}}\n    api_base: {api_base}\n"
        f"    objects: {OBJECTS}\n",
    )
    config.write_text(text)
    return root


def _cli(root: Path, *args: str, key: str = TEST_KEY) -> tuple[int, Any]:
    result = CliRunner().invoke(
        app,
        [args[0], "-w", str(root), *args[1:], "--json"],
        env={"STRIPE_API_KEY": key, "BILLBRIDGE_ACTOR": "tester"},
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    out = result.stdout.strip()
    try:
        return result.exit_code, orjson.loads(out) if out else None
    except orjson.JSONDecodeError:
        return result.exit_code, out


def _postings(root: Path) -> dict[str, list[Any]]:
    entries, errors, _ = loader.load_file(str(root / "books" / "main.beancount"))
    assert errors == []
    by_key: dict[str, list[Any]] = {}
    for entry in entries:
        key = entry.meta.get("billbridge-key")
        if key:
            by_key.setdefault(key, []).append(entry)
    return by_key


def _amount(entry: Any, account_prefix: str) -> Decimal:
    return sum(
        (p.units.number for p in entry.postings if p.account.startswith(account_prefix)),
        Decimal(0),
    )


def test_backfill_posts_every_invoice_payment_and_refund_once(
    tmp_path: Path, stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    account = fill(stripe_client, customers=3)
    root = _workspace(tmp_path / "ws", localstripe)

    code, result = _cli(root, "sync", "--backfill")
    assert code == 0, result
    assert result["counts"]["failed"] == 0
    assert result["source"]["objects"]["invoice"] >= 3
    assert result["source"]["throttled"] == 0
    by_key = _postings(root)
    keys = Counter(k.split(":")[1] for k in by_key)
    assert keys["invoice"] == len(account.invoices) == 3
    assert keys["charge"] == len(account.charges) == 6
    assert keys["refund"] == len(account.refunds) == 3
    for inv, total in account.invoices.items():
        entries = [e for k, es in by_key.items() if k == f"stripe:invoice:{inv}" for e in es]
        assert len(entries) == 1
        assert _amount(entries[0], "Assets:Receivable") == Decimal(total) / 100
    for ref, amount in account.refunds.items():
        (entry,) = by_key[f"stripe:refund:{ref}"]
        assert _amount(entry, "Assets:Stripe:Clearing") == -Decimal(amount) / 100
    for charge, amount in account.charges.items():
        (entry,) = by_key[f"stripe:charge:{charge}"]
        assert _amount(entry, "Assets:Stripe:Clearing") == Decimal(amount) / 100

    # a second pass reads the events since the backfill: nothing new to post
    code, result = _cli(root, "sync")
    assert code == 0, result
    assert result["posted"] == 0
    assert _postings(root).keys() == by_key.keys()

    # a new subscription after the backfill arrives through /v1/events
    cus, _ = customer(stripe_client, "late")
    plan = stripe_client.v1.plans.list(params={"limit": 1}).data[0]
    stripe_client.v1.subscriptions.create(params={"customer": cus, "items": [{"plan": plan.id}]})
    (late,) = stripe_client.v1.invoices.list(params={"customer": cus}).data
    code, result = _cli(root, "sync")
    assert code == 0, result
    after = _postings(root)
    assert len(after[f"stripe:invoice:{late.id}"]) == 1
    assert (
        _amount(after[f"stripe:invoice:{late.id}"][0], "Assets:Receivable")
        == Decimal(late.total) / 100
    )
    assert set(after) - set(by_key) == {f"stripe:invoice:{late.id}"}
    code, result = _cli(root, "sync")
    assert result["posted"] == 0


def test_resume_from_a_cursor_mid_type(
    stripe_client: stripe.StripeClient, localstripe: str
) -> None:
    """An interrupted backfill resumes after the last record it committed, per type."""
    fill(stripe_client, customers=3)
    objects = ["customers", "invoices", "charges", "refunds"]
    source = StripeApiSource(
        "stripe", StripeApi(api_key=TEST_KEY, api_base=localstripe), objects=objects
    )
    everything = list(source.read(None))
    backfilled = [r for r in everything if orjson.loads(r.position).get("ev") is None]
    assert [r.object for r in backfilled][:3] == ["customer"] * 3
    for cut in (0, 2, 3, 7, len(backfilled) - 1):
        rest = list(source.read(backfilled[cut].position))
        expected = [(r.object, r.id) for r in backfilled[cut + 1 :]]
        assert [(r.object, r.id) for r in rest][: len(expected)] == expected


def test_small_pages_page_through_every_object(
    stripe_client: stripe.StripeClient, localstripe: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(stripe_client, customers=3)
    monkeypatch.setattr("billbridge.connectors.stripe_api._source._PAGE", 2)
    source = StripeApiSource(
        "stripe", StripeApi(api_key=TEST_KEY, api_base=localstripe), objects=["charges"]
    )
    charges = [r.id for r in source.read(None) if r.object == "charge"]
    listed = [c.id for c in stripe_client.v1.charges.list(params={"limit": 100}).data]
    assert sorted(set(charges)) == sorted(listed)
    assert source.api.stats.requests >= 4


def test_test_key_on_production_connection_exits_2(tmp_path: Path, localstripe: str) -> None:
    root = _workspace(tmp_path / "ws", localstripe, mode="production")
    code, result = _cli(root, "sync")
    assert code == 2
    text = str(result)
    assert "api_key" in text and "test-mode key" in text
    assert TEST_KEY not in text


def test_live_key_on_sandbox_connection_exits_2(tmp_path: Path, localstripe: str) -> None:
    root = _workspace(tmp_path / "ws", localstripe)
    live = "sk_live_notreal0123456789"
    code, result = _cli(root, "sync", key=live)
    assert code == 2
    assert "live key" in str(result)
    assert live not in str(result)


def test_wrong_api_base_stops_with_the_fix(tmp_path: Path, localstripe: str) -> None:
    """A wrong `api_base` (404 on the list) stops the run with a message naming the fix."""
    root = _workspace(tmp_path / "ws", localstripe + "/nowhere")
    code, result = _cli(root, "sync", "--backfill")
    assert code == 2
    assert "GET /v1/customers" in result["error"]
    assert "HTTP 404" in result["error"]
    assert "check `api_base`" in result["error"]
    assert TEST_KEY not in str(result)
