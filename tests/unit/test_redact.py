"""`billbridge.redact`: every shape of secret in settings and texts is masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from billbridge.config import SqlLedgerConnection, StripeConnection
from billbridge.redact import MASK, redact, redact_settings, redact_url, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://books:s3cret@db:5432/gl", "postgresql://books:***@db:5432/gl"),
        ("postgresql://books@db/gl", "postgresql://books@db/gl"),
        ("postgres://u:p%40ss@h/d?sslmode=require", "postgres://u:***@h/d?sslmode=require"),
        (
            "postgresql://h/d?user=u&password=pw1&sslpassword=pw2",
            "postgresql://h/d?user=u&password=***&sslpassword=***",
        ),
        ("https://hooks.example/x?token=abc123", "https://hooks.example/x?token=***"),
        ("sqlite:///books/gl.db", "sqlite:///books/gl.db"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_walks_values_and_masks_by_name_and_shape() -> None:
    value = {
        "url": "postgresql://a:b@h/d",
        "password": "hunter2",
        "nested": [{"api_key": "k-123"}, {"note": "dsn host=h password=pw9 dbname=d"}],
        "token": "",
        "key": SecretStr("sk_test_x"),
        "count": 3,
    }
    assert redact(value) == {
        "url": f"postgresql://a:{MASK}@h/d",
        "password": MASK,
        "nested": [{"api_key": MASK}, {"note": f"dsn host=h password={MASK} dbname=d"}],
        "token": "",
        "key": MASK,
        "count": 3,
    }


def test_redact_settings_shows_whether_a_secret_is_set_never_its_value() -> None:
    stripe = StripeConnection(
        connector="stripe", api_key=SecretStr("sk_test_abc"), webhook_secret=None,
        export=Path("/x.jsonl"),
    )  # fmt: skip
    shown = redact_settings(stripe)
    assert shown["api_key_set"] is True and shown["webhook_secret_set"] is False
    assert "api_key" not in shown and "sk_test_abc" not in str(shown)
    assert shown["export"] == "/x.jsonl"
    gl = SqlLedgerConnection(connector="sqlgl", url="postgresql://u:pw-long@h/d")
    assert redact_settings(gl)["url"] == f"postgresql://u:{MASK}@h/d"


def test_scrub_takes_known_secrets_and_url_passwords_out_of_any_text() -> None:
    text = "cannot connect to postgresql://u:other-pw@h/d with key sk_test_zzz9"
    assert (
        scrub(text, ["sk_test_zzz9"])
        == f"cannot connect to postgresql://u:{MASK}@h/d with key {MASK}"
    )
