"""The clean-up trend rebuilds past queues from the rows' first-seen and closed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billbridge.engine.cleanup import cleanup
from billbridge.store import Store
from billbridge.store.base import Batch, ExceptionRow


def _failed(key: str, field: str, error: str, at: datetime) -> ExceptionRow:
    return ExceptionRow(
        flow="f", record_key=key, version="v", kind="failed", error=error, at=at, field=field
    )


def test_thirty_days_of_estimates_from_the_queue_history(store: Store) -> None:
    now = datetime.now(UTC)
    five_days_ago = now - timedelta(days=5)
    two_days_ago = now - timedelta(days=2)
    store.commit(
        Batch(
            exceptions=[
                _failed("k:invoice:a", "total", "lines do not add up", five_days_ago),
                _failed("k:invoice:b", "tax_rates", "tax rate 'x' has no account", two_days_ago),
            ]
        )
    )
    store.commit(Batch(closed_exceptions=[("f", "k:invoice:a", "synced in run 9")]))
    (closed,) = [r for r in store.exceptions_since(five_days_ago) if r.record_key == "k:invoice:a"]
    assert closed.status == "closed" and closed.closed_at is not None

    estimate = cleanup(store, now=now)
    assert estimate.minutes == 6  # only the tax rate is open now: 5 + 0.1, rounded up
    by_day = dict(estimate.trend)
    assert len(estimate.trend) == 30 and estimate.trend[-1] == (now.date(), 6)
    assert by_day[(now - timedelta(days=6)).date()] == 0
    assert by_day[(now - timedelta(days=4)).date()] == 8  # the inconsistent invoice: 5 + 3
    assert by_day[(now - timedelta(days=1)).date()] == 8 + 6  # and the tax rate since
    assert estimate.as_json()["trend"][-1] == {"day": now.date().isoformat(), "minutes": 6}
