"""Every built-in target through every way a real sink fails: nothing lost, nothing twice.

Each case syncs the test export once through `FaultyTarget` (a fatal error, a passing
error that outlasts the retries, a write that lands and then times out, a partial write
followed by the process dying, a constraint refusing one record), then once with the
plain target, as the next scheduled sync would. The ledger, read back from the target
itself, must then equal that of a run that never failed: the same idempotency keys, each
once, and the same amount per account and currency; the queue holds exactly what cannot
go (the export's deliberate faults, and a refused record until it is retried).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from billbridge.connectors.base import TargetConnector
from billbridge.testing import FAULT_KINDS, Fault, FaultKind

from ...e2e.conftest import Workspace, make_workspace
from ...e2e.ledgers import retarget
from ...e2e.test_sync_flow import FAULTS, expected_facets
from .faults import LedgerView, clean_sync, faulted_sync, ledger_now, lost, queued

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Kind:
    connection: Callable[[Path, pytest.FixtureRequest], str | None]  # None: Beancount as made
    torn_file: Callable[[TargetConnector], Path | None] | None = None


def _sqlite_gl(where: Path, _request: pytest.FixtureRequest) -> str:
    return f"    connector: sqlgl\n    url: sqlite:///{where / 'ledger.db'}"


def _postgres_gl(where: Path, request: pytest.FixtureRequest) -> str:
    url = str(request.getfixturevalue("pg_url"))
    if where.name == "reference":  # a schema of its own, dropped at the end of the test
        url = url.replace("schema=", "schema=r")
        schema = url.split("schema=")[1]

        def drop() -> None:
            import psycopg

            with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

        request.addfinalizer(drop)
    return f"    connector: sqlgl\n    url: {url}"


def _gnucash(_where: Path, _request: pytest.FixtureRequest) -> str:
    pytest.importorskip("piecash", reason="GnuCash support is the extra billbridge[gnucash]")
    return "    connector: gnucash\n    path: books/main.gnucash\n    currency: EUR"


def _csv(_where: Path, _request: pytest.FixtureRequest) -> str:
    return "    connector: csv-export\n    path: exports-out\n    format: quickbooks-journal"


KINDS = {
    "beancount": Kind(
        lambda _w, _r: None,
        torn_file=lambda t: Path(t.entries_path),  # type: ignore[attr-defined]
    ),
    "gnucash": Kind(_gnucash),
    "sqlgl-sqlite": Kind(_sqlite_gl),
    "sqlgl-postgres": Kind(_postgres_gl),
    "csv-export": Kind(_csv, torn_file=lambda t: Path(t.manifest)),  # type: ignore[attr-defined]
}
TARGETS = [
    pytest.param(name, marks=pytest.mark.postgres) if "postgres" in name else name for name in KINDS
]


def _workspace(where: Path, kind: str, request: pytest.FixtureRequest) -> Workspace:
    ws = make_workspace(where / "ws", f"sqlite:///{where / 'state.db'}", invoices=15, batch_size=20)
    connection = KINDS[kind].connection(where, request)
    return retarget(ws, connection) if connection else ws


def _reference(kind: str, where: Path, request: pytest.FixtureRequest) -> LedgerView:
    """What a run that never failed leaves in this kind of target."""
    ws = _workspace(where, kind, request)
    clean_sync(ws.root, ws.state_url)
    assert set(queued(ws.root, ws.state_url)) == set(FAULTS)
    return ledger_now(ws.root)


def _records(keys: tuple[str, ...]) -> set[str]:
    return {key.split("|")[1] for key in keys}


@pytest.mark.parametrize("fault", FAULT_KINDS)
@pytest.mark.parametrize("kind", TARGETS)
def test_after_a_fault_the_next_clean_run_leaves_the_books_of_a_clean_run(
    tmp_path: Path, kind: str, fault: FaultKind, request: pytest.FixtureRequest
) -> None:
    reference = _reference(kind, tmp_path / "reference", request)
    assert reference.keys and reference.duplicated == set()
    ws = _workspace(tmp_path / "faulted", kind, request)
    expected = expected_facets(ws.records())
    assert set(reference.keys) == expected

    run = faulted_sync(
        ws.root,
        ws.state_url,
        Fault(kind=fault, write=5, times=10),
        torn_file=KINDS[kind].torn_file,
    )
    [(injected, keys)] = run.injected
    assert injected == fault
    if run.result is not None:  # the process lived: 0 lost, 0 twice already
        assert ledger_now(ws.root).duplicated == set()
        assert lost(ws.root, ws.state_url, expected) == set()
        if fault in {"fatal", "retryable", "refuse"}:
            assert _records(keys) <= set(queued(ws.root, ws.state_url))

    clean_sync(ws.root, ws.state_url)
    rows = queued(ws.root, ws.state_url)
    if fault == "refuse":  # the refused record stays queued until someone retries it
        assert _records(keys) <= set(rows)
        assert "refuses" in rows[keys[0].split("|")[1]]
        clean_sync(ws.root, ws.state_url, retry_queue=True)
        rows = queued(ws.root, ws.state_url)
    assert set(rows) == set(FAULTS), rows
    books = ledger_now(ws.root)
    assert books.duplicated == set()
    assert books.keys == reference.keys
    assert books.amounts == reference.amounts
