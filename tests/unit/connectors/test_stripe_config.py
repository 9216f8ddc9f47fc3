"""billbridge.yaml for a live Stripe connection: key/mode mismatches and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from billbridge.config import ConfigError, StripeConnection, load_workspace

CONFIG = """\
connections:
  stripe:
    connector: stripe
    mode: {mode}
    api_key: ${{STRIPE_API_KEY}}
    webhook_secret: ${{STRIPE_WEBHOOK_SECRET}}
    rate_limit: 10
    api_base: http://127.0.0.1:8420
    objects: [customers, invoices]
  books:
    connector: beancount
    path: main.beancount
flows:
  - name: f
    from: stripe
    to: books
    mapping: mapping.yaml
"""


def _load(tmp_path: Path, mode: str, key: str) -> StripeConnection:
    (tmp_path / "billbridge.yaml").write_text(CONFIG.format(mode=mode))
    ws = load_workspace(
        tmp_path, env={"STRIPE_API_KEY": key, "STRIPE_WEBHOOK_SECRET": "whsec_1"}
    )
    conn = ws.connections["stripe"]
    assert isinstance(conn, StripeConnection)
    return conn


def test_matching_key_and_mode_load(tmp_path: Path) -> None:
    conn = _load(tmp_path, "production", "sk_live_abc")
    assert conn.api_key is not None and conn.api_key.get_secret_value() == "sk_live_abc"
    assert "sk_live_abc" not in repr(conn)
    assert conn.objects == ("customers", "invoices")
    assert conn.rate_limit == 10
    assert _load(tmp_path, "sandbox", "rk_test_abc").mode == "sandbox"


@pytest.mark.parametrize(
    ("mode", "key", "message"),
    [
        ("production", "sk_test_abc123", "test-mode key"),
        ("sandbox", "sk_live_abc123", "live key"),
        ("sandbox", "pk_test_abc123", "not a Stripe secret key"),
    ],
)
def test_mismatch_names_the_field_and_hides_the_key(
    tmp_path: Path, mode: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, mode, key)
    text = str(info.value)
    assert message in text
    assert "connections.stripe.api_key" in text
    assert "billbridge.yaml" in text
    assert key not in text
