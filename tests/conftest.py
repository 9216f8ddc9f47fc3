"""Fixtures shared by every test layer: where the state stores live.

PostgreSQL tests get a schema of their own (dropped afterwards), so they can run in
parallel against one server. When the server is unreachable they are skipped with the
reason printed, except in CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.plugins import PLUGIN_MODULES, install_plugins

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose `schema` parameter names a fresh schema for this test."""
    schema = f"bb_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        reason = f"PostgreSQL not reachable at 127.0.0.1:5432: {' '.join(str(exc).split())}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required when CI=true)")
        pytest.skip(reason)
    with conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            yield f"{PG_SERVER}?schema={schema}"
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite URL for a state file in this test's temporary folder."""
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def plugin_site(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Connector plugins installed for this test only (`tests/plugins`): real dist-infos."""
    site = install_plugins(tmp_path_factory.mktemp("site-packages"))
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in PLUGIN_MODULES:
        sys.modules.pop(module, None)
