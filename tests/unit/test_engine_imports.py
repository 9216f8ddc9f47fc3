"""The engine never imports a concrete connector: it sees only the protocols in `base` and
`source` (how a source's records become canonical objects)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import pkgutil, importlib, sys
import billbridge.engine as engine
for info in pkgutil.walk_packages(engine.__path__, "billbridge.engine."):
    importlib.import_module(info.name)
print(" ".join(sorted(m for m in sys.modules if m.startswith("billbridge.connectors"))))
"""


def test_engine_imports_only_the_connector_protocol() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(done.stdout.split())
    assert "billbridge.connectors.base" in loaded  # the walk did import the engine
    allowed = {
        "billbridge.connectors",
        "billbridge.connectors.base",
        "billbridge.connectors.source",
    }
    assert loaded <= allowed, loaded
