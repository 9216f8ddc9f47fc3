"""localstripe for the live-Stripe tests: one server per test module, reset per test.

The server runs in a child process on a loopback socket the fixture bound itself (no
port race, never on all interfaces) with its data file in the test's temp folder; each
test starts from an empty store (`DELETE /_config/data`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

HERE = Path(__file__).parent
TEST_KEY = "sk_test_billbridge_localstripe"


def _get(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method)
    request.add_header("Authorization", f"Bearer {TEST_KEY}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


@pytest.fixture(scope="module")
def localstripe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("localstripe") / "store.pickle"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    log = data.with_suffix(".log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "localstripe_main.py"), str(sock.fileno()), str(data)],
        pass_fds=(sock.fileno(),),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    sock.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _get(f"{base}/v1/customers")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"localstripe did not start: {data.with_suffix('.log').read_text()}")
            time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def localstripe(localstripe_server: str) -> str:
    """The base URL of an emptied localstripe."""
    assert _get(f"{localstripe_server}/_config/data", method="DELETE") == 200
    return localstripe_server


@pytest.fixture
def stripe_client(localstripe: str) -> stripe.StripeClient:
    """The official SDK pointed at localstripe, for creating test data."""
    return stripe.StripeClient(
        TEST_KEY,
        base_addresses={"api": localstripe},
        stripe_version="2017-08-15",
        max_network_retries=0,
    )
