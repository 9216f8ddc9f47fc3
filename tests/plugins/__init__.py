"""Installs connector plugins for one test: real distributions on sys.path, no mocks.

Each plugin is a folder with its module and a `<name>-<version>.dist-info` holding
METADATA and `entry_points.txt`, exactly what pip leaves in site-packages, so
`importlib.metadata.entry_points(group="billbridge.connectors")` finds it as it would
find an installed package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent
PLUGIN_MODULES = ("billbridge_jsonl", "billbridge_orders", "billbridge_broken")

BROKEN_MODULE = '''\
"""A plugin whose dependency is not installed: importing it fails."""
import billbridge_missing_dependency  # noqa: F401

SPEC = None
'''


def _dist_info(site: Path, name: str, version: str, entry: str, *requires: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "entry_points.txt").write_text(f"[billbridge.connectors]\n{entry}\n")


def install_plugins(site: Path) -> Path:
    """The JSONL target (`jsonl-file`), the bills source (`orders-file`) and a broken plugin
    (`broken-ledger`) in `site`."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "billbridge_jsonl.py", site / "billbridge_jsonl.py")
    _dist_info(site, "billbridge-jsonl", "0.1.0", "jsonl-file = billbridge_jsonl:SPEC")
    shutil.copy(HERE / "billbridge_orders.py", site / "billbridge_orders.py")
    _dist_info(site, "billbridge-orders", "0.1.0", "orders-file = billbridge_orders:SPEC")
    (site / "billbridge_broken.py").write_text(BROKEN_MODULE)
    _dist_info(
        site, "billbridge-broken", "2.0.0", "broken-ledger = billbridge_broken:SPEC",
        'billbridge-missing-dependency>=1; extra == "fancy"',
    )  # fmt: skip
    return site
