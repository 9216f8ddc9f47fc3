"""Connectors from other packages: found through the `billbridge.connectors` entry points.

The plugins are real distributions (a dist-info folder on sys.path, `tests/plugins`):
`jsonl-file`, a tiny JSONL target, and `broken-ledger`, whose module cannot be imported.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from billbridge.config import ConfigError, load_workspace
from billbridge.connectors.registry import ConnectorLoadError, connector_names, connector_spec
from billbridge.connectors.spec import ConnectorSpec

BUILTIN = ("beancount", "bottlecrm", "csv-export", "files", "gnucash", "sqlgl", "stripe")

CONFIG = """\
connections:
  stripe:
    connector: stripe
    export: exports/stripe.jsonl
  books:
{books}
flows:
  - name: stripe-to-books
    from: {source}
    to: books
    mapping: mapping.yaml
"""


def load(tmp_path: Path, books: str, source: str = "stripe") -> ConfigError | None:
    path = tmp_path / "billbridge.yaml"
    path.write_text(CONFIG.format(books=books, source=source))
    try:
        load_workspace(path)
    except ConfigError as exc:
        return exc
    return None


def test_builtin_connectors_come_from_billbridges_own_entry_points() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["billbridge.connectors"]
    assert tuple(sorted(declared)) == BUILTIN
    assert set(BUILTIN) <= set(connector_names())
    for name in BUILTIN:
        spec = connector_spec(name)
        assert isinstance(spec, ConnectorSpec) and spec.name == name


def test_unknown_connector_lists_the_installed_ones(tmp_path: Path) -> None:
    error = load(tmp_path, "    connector: jsonl-file\n    path: books/entries.jsonl")
    assert error is not None
    text = str(error)
    assert f"{tmp_path / 'billbridge.yaml'}:6: connections.books.connector:" in text, text
    assert "unknown connector 'jsonl-file'; expected one of: " + ", ".join(BUILTIN) in text


@pytest.mark.usefixtures("plugin_site")
def test_an_installed_plugin_is_a_known_connector(tmp_path: Path) -> None:
    assert "jsonl-file" in connector_names() and "broken-ledger" in connector_names()
    assert load(tmp_path, "    connector: jsonl-file\n    path: books/entries.jsonl") is None
    error = load(tmp_path, "    connector: jsonl-files\n    path: books/entries.jsonl")
    assert error is not None
    assert (
        "unknown connector 'jsonl-files'; expected one of: beancount, bottlecrm, broken-ledger, "
        "csv-export, files, gnucash, jsonl-file, orders-file, sqlgl, stripe"
    ) in str(error)


@pytest.mark.usefixtures("plugin_site")
def test_a_plugins_own_model_names_file_line_and_field(tmp_path: Path) -> None:
    error = load(tmp_path, "    connector: jsonl-file\n    path: e.jsonl\n    mode: live")
    assert error is not None
    assert ":8: connections.books.mode: Input should be 'sandbox' or 'production'" in str(error)
    error = load(tmp_path, "    connector: jsonl-file\n    path: e.jsonl\n    fsync: no")
    assert error is not None
    assert ":8: connections.books.fsync: unknown key 'fsync'" in str(error), str(error)
    error = load(tmp_path, "    connector: jsonl-file\n    file: e.jsonl")
    assert error is not None
    assert ":5: connections.books.path: required, but missing" in str(error), str(error)


@pytest.mark.usefixtures("plugin_site")
def test_a_plugin_target_is_not_a_source(tmp_path: Path) -> None:
    error = load(tmp_path, "    connector: jsonl-file\n    path: x.jsonl", source="books")
    assert error is not None
    assert "flows[0].from: must be a source connection; 'books' is a jsonl-file" in str(error)


@pytest.mark.usefixtures("plugin_site")
def test_a_plugin_that_fails_to_import_is_named_only_where_it_is_used(tmp_path: Path) -> None:
    # Installed but unused: every other workspace loads.
    assert load(tmp_path, "    connector: beancount\n    path: main.beancount") is None
    error = load(tmp_path, "    connector: broken-ledger\n    path: x")
    assert error is not None
    text = str(error)
    assert ":6: connections.books.connector: connector 'broken-ledger' could not be loaded" in text
    assert "entry point `broken-ledger = billbridge_broken:SPEC`" in text
    assert "of the package billbridge-broken 2.0.0" in text
    assert "No module named 'billbridge_missing_dependency'" in text
    assert "pip install 'billbridge-broken[fancy]'" in text, text
    with pytest.raises(ConnectorLoadError, match="billbridge-broken"):
        connector_spec("broken-ledger")


def test_the_plugins_are_gone_after_the_test() -> None:
    assert "jsonl-file" not in connector_names()


def test_gnucash_without_its_extra_fails_only_where_used_naming_the_extra(
    tmp_path: Path,
) -> None:
    """The extra billbridge[gnucash] absent: a GnuCash workspace is told what to install."""

    script = (
        "import sys\n"
        "from importlib.abc import MetaPathFinder\n"
        "class NoPiecash(MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in ('piecash', 'sqlalchemy'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoPiecash())\n"
        "from pathlib import Path\n"
        "from billbridge.config import ConfigError, load_workspace\n"
        "try:\n"
        "    load_workspace(Path(sys.argv[1]))\n"
        "    print('loaded')\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    outputs = {}
    for kind, books in (
        ("beancount", "    connector: beancount\n    path: main.beancount"),
        ("gnucash", "    connector: gnucash\n    path: main.gnucash"),
    ):
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "billbridge.yaml").write_text(
            CONFIG.format(books=books, source="stripe")
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / kind)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        outputs[kind] = done.stdout.strip()
    assert outputs["beancount"] == "loaded"
    text = outputs["gnucash"]
    assert ":6: connections.books.connector: connector 'gnucash' could not be loaded" in text
    assert "entry point `gnucash = billbridge.connectors.gnucash:SPEC`" in text
    assert "No module named 'piecash'" in text
    assert "pip install 'billbridge[gnucash]'" in text, text


def test_a_name_offered_by_two_packages_is_refused_naming_both(
    plugin_site: Path, tmp_path: Path
) -> None:
    info = plugin_site / "billbridge_jsonl_fork-0.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: billbridge-jsonl-fork\nVersion: 0.2.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[billbridge.connectors]\njsonl-file = billbridge_jsonl:SPEC\n"
    )
    sys.path.insert(0, str(tmp_path))  # a new sys.path: the group is read again
    try:
        error = load(tmp_path, "    connector: jsonl-file\n    path: e.jsonl")
    finally:
        sys.path.remove(str(tmp_path))
    assert error is not None
    text = str(error)
    assert "connector 'jsonl-file' is offered more than once" in text
    assert "billbridge-jsonl 0.1.0" in text and "billbridge-jsonl-fork 0.2.0" in text
    assert "uninstall all but one" in text


def test_a_source_spec_must_bring_its_normalizer() -> None:
    from billbridge.connectors.registry import _problem
    from billbridge.connectors.spec import ConnectionConfig

    spec = ConnectorSpec(
        name="no-model",
        config=ConnectionConfig,
        role="source",
        factory=lambda n, c: None,  # type: ignore[arg-type,return-value]
    )
    assert "source without a `source_model`" in _problem("no-model", spec)
    assert _problem("stripe", connector_spec("stripe")) == ""


@pytest.mark.usefixtures("plugin_site")
def test_a_flow_to_a_source_that_keeps_no_records_is_refused(tmp_path: Path) -> None:
    error = load(tmp_path, "    connector: orders-file\n    path: exports/x.jsonl")
    assert error is not None
    assert (
        "flows[0].to: must be a ledger (target) connection or one that keeps records; "
        "'books' is a orders-file connection"
    ) in str(error)
    # Stripe keeps records (customers): a flow may end there, a record flow.
    assert load(tmp_path, "    connector: stripe\n    api_key: sk_test_x") is None
