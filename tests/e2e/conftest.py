"""Whole-CLI runs over a generated Stripe export, on both state stores.

Each test gets a fresh workspace: billbridge.yaml, a mapping that covers the sample
catalogue (but not the deliberately unmapped tax rate), and an export of a few hundred
Stripe records that includes every deliberate fault of `billbridge.samples`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.samples import SAMPLE_PRODUCTS, SAMPLE_TAX_RATES, generate, write_jsonl
from billbridge.workspace_files import create_workspace

INVOICES = 150


@dataclass
class Workspace:
    root: Path
    state_url: str

    @property
    def export(self) -> Path:
        return self.root / "exports" / "stripe.jsonl"

    @property
    def ledger(self) -> Path:
        return self.root / "books" / "main.beancount"

    @property
    def entries_file(self) -> Path:
        return self.root / "books" / "billbridge.beancount"

    def env(self, **extra: str) -> dict[str, str]:
        return {"BILLBRIDGE_STATE": self.state_url, "BILLBRIDGE_ACTOR": "tester", **extra}

    def cli(self, *args: str) -> tuple[int, Any]:
        """Run `billbridge -w ROOT ... --json` in-process; return (exit code, parsed JSON).

        `-w` goes before the command, so sub-commands (`alerts check`) take it too.
        """
        result = CliRunner().invoke(app, ["-w", str(self.root), *args, "--json"], env=self.env())
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        output = result.stdout.strip()
        return result.exit_code, orjson.loads(output) if output else None

    def subprocess(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the real console entry point in a child process (for kill tests)."""
        return subprocess.run(
            [sys.executable, "-m", "billbridge", "-w", str(self.root), *args],
            env={**os.environ, **self.env(**env)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def records(self) -> list[dict[str, Any]]:
        with self.export.open("rb") as handle:
            return [orjson.loads(line) for line in handle if line.strip()]


def mapping_accounts() -> tuple[dict[str, str], dict[str, str]]:
    products = {
        p: f"Income:Sales:{p.removeprefix('prod_').title().replace('_', '-')}"
        for p in SAMPLE_PRODUCTS
    }
    rates = {
        r: f"Liabilities:Tax:{r.removeprefix('txr_').upper().replace('_', '-')}"
        for r in SAMPLE_TAX_RATES
    }
    return products, rates


def sandbox_ledger(root: Path) -> None:
    """Make the workspace's Beancount ledger `mode: sandbox`: an edited mapping runs at once
    (on production, the default, it is a draft until tested and promoted)."""
    config = root / "billbridge.yaml"
    config.write_text(
        config.read_text().replace(
            "path: books/main.beancount", "mode: sandbox\n    path: books/main.beancount", 1
        )
    )


def make_workspace(
    root: Path,
    state_url: str,
    *,
    invoices: int = INVOICES,
    batch_size: int | None = None,
    seed: int = 5,
) -> Workspace:
    products, rates = mapping_accounts()
    create_workspace(root, products=products, tax_rates=rates, timezone="Europe/Berlin")
    if batch_size is not None:
        config = root / "billbridge.yaml"
        config.write_text(config.read_text() + f"batch_size: {batch_size}\n")
    write_jsonl(
        root / "exports" / "stripe.jsonl",
        generate(invoices=invoices, seed=seed, api="current", faults=True),
    )
    return Workspace(root=root, state_url=state_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def workspace(tmp_path: Path, state_url: str) -> Workspace:
    return make_workspace(tmp_path / "ws", state_url)
