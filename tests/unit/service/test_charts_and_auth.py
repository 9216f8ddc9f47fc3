"""The pure parts of the service: the runs chart geometry, roles and the login limiter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billbridge.service.auth import LoginLimiter, allows, hash_password, verify_password
from billbridge.service.charts import HEIGHT, outcome_bars
from billbridge.store.base import RunRow, UserRow

T = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _run(run_id: int, **counts: int) -> RunRow:
    return RunRow(id=run_id, flow="f", kind="live", actor="a", started_at=T, counts=counts)


def test_bars_stack_outcomes_scaled_to_the_busiest_run() -> None:
    bars, width = outcome_bars([_run(2, synced=10), _run(1, synced=30, failed=10)])
    assert [b.run for b in bars] == [1, 2], "oldest first"
    first = {s.outcome: s for s in bars[0].segments}
    assert first["synced"].height + first["failed"].height == pytest.approx(HEIGHT)
    assert first["failed"].y == pytest.approx(0)  # stacked on top, reaching the top edge
    assert bars[1].segments[0].height == pytest.approx(HEIGHT / 4)
    assert width > bars[1].x


def test_no_runs_draw_nothing() -> None:
    assert outcome_bars([])[0] == []


@pytest.mark.parametrize(
    ("role", "needed", "ok"),
    [
        ("viewer", "viewer", True),
        ("viewer", "operator", False),
        ("operator", "operator", True),
        ("operator", "admin", False),
        ("admin", "viewer", True),
    ],
)
def test_roles_are_ordered(role: str, needed: str, ok: bool) -> None:
    assert allows(role, needed) is ok  # type: ignore[arg-type]


def test_passwords_hash_with_argon2id_and_verify() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    user = UserRow(name="a", role="viewer", password_hash=hashed, created_at=T)
    assert verify_password(user, "correct horse battery")
    assert not verify_password(user, "wrong")
    assert not verify_password(None, "correct horse battery")


def test_login_limiter_blocks_after_five_failures_per_client_and_name() -> None:
    limiter = LoginLimiter(attempts=5, window_seconds=60)
    for _ in range(5):
        assert not limiter.blocked("1.2.3.4", "ana")
        limiter.failed("1.2.3.4", "ana")
    assert limiter.blocked("1.2.3.4", "ana")
    assert not limiter.blocked("1.2.3.4", "bob")
    assert not limiter.blocked("5.6.7.8", "ana")
    limiter.succeeded("1.2.3.4", "ana")
    assert not limiter.blocked("1.2.3.4", "ana")
