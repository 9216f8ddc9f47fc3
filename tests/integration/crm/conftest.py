"""A fresh, real BottleCRM per test (see tests/crm_server.py), with a webhook sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crm_server import CrmServer, run_crm, webhook_sink


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[CrmServer]:
    with webhook_sink() as (url, received), run_crm(tmp_path / "crm", webhook_urls=[url]) as server:
        server.hooks = received
        yield server
