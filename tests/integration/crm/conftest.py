"""A fresh, real BottleCRM per test (see tests/crm_server.py), with a webhook sink.

`crm` starts one per test; `shared_crm` one per module, for suites whose tests each use
records of their own (a CRM start costs one to a few seconds).
"""

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


@pytest.fixture(scope="module")
def shared_crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrmServer]:
    folder = tmp_path_factory.mktemp("crm")
    with webhook_sink() as (url, received), run_crm(folder, webhook_urls=[url]) as server:
        server.hooks = received
        yield server


# localstripe for the loop tests: the live-Stripe suite's fixtures (one server per module).
from tests.integration.stripe_live.conftest import (  # noqa: E402, F401
    localstripe,
    localstripe_server,
    stripe_client,
)
