"""Which mapping a flow runs, and every refusal of promote and rollback, on both stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from billbridge.engine.mapping_change import (
    ChangeRefusedError,
    FlowRef,
    promote,
    rollback,
    runtime_mapping,
    store_draft,
)
from billbridge.identity import Identity
from billbridge.mapping.model import Mapping, load_mapping
from billbridge.store import AuditEvent, Store, open_store
from billbridge.workspace_files import create_workspace

from ..store.conftest import raw


@pytest.fixture
def store(state_url: str) -> Any:
    opened = open_store(state_url)
    yield opened
    opened.close()


def _ref(root: Path, *, production: bool = True, four_eyes: bool = True) -> FlowRef:
    return FlowRef(name="f", source="stripe", target="books", mapping_path=root / "mapping.yaml",
                   production=production, four_eyes=four_eyes)  # fmt: skip


def _files(tmp_path: Path) -> tuple[Mapping, Mapping]:
    create_workspace(tmp_path, tax_rates={"txr_1": "Liabilities:Tax:One"})
    path = tmp_path / "mapping.yaml"
    first = load_mapping(path)
    path.write_text(path.read_text().replace("Liabilities:Tax:One", "Liabilities:Tax:Two"))
    return first, load_mapping(path)


ANA = Identity(name="ana", role="approver", proven=True)
BOB = Identity(name="bob", role="approver", proven=True)


def _tested(store: Store, draft: str, base: str) -> None:
    audit = AuditEvent(actor="ana", action="mapping-tested")
    store.add_mapping_test(flow="f", draft=draft, base=base, actor="ana", records=1,
                           summary={"changed": 0}, audit=audit)  # fmt: skip


def test_production_runs_the_promoted_version_a_sandbox_its_file(
    tmp_path: Path, store: Store
) -> None:
    first, second = _files(tmp_path)
    ref = _ref(tmp_path)
    state = runtime_mapping(store, ref, first, actor="setup")
    assert (state.promoted, state.draft_waiting) == (first.version, "")
    state = runtime_mapping(store, ref, second, actor="cron")
    assert state.mapping.version == first.version and state.draft_waiting == second.version
    assert state.mapping.tax_rates == {"txr_1": "Liabilities:Tax:One"}
    assert store.get_mapping_version("f", second.version) is None  # production: not stored
    sandbox = runtime_mapping(store, _ref(tmp_path, production=False), second, actor="cron")
    assert sandbox.mapping.version == second.version == sandbox.sandbox_draft
    kept = store.get_mapping_version("f", second.version)
    assert kept is not None and (kept.author, kept.parent) == ("cron", first.version)
    # a row changed behind billbridge's back no longer loads
    with raw(store) as conn:
        conn.execute(
            "DROP TRIGGER mapping_versions_no_update" if store.dialect == "sqlite"
            else "DROP TRIGGER mapping_versions_immutable ON mapping_versions"
        )  # fmt: skip
        conn.execute("UPDATE mapping_versions SET content = replace(content, 'One', 'Six')")
    with pytest.raises(Exception, match="hashes to"):
        runtime_mapping(store, ref, second, actor="cron")


def test_promotion_needs_a_second_signed_in_approver_and_a_test(
    tmp_path: Path, store: Store
) -> None:
    first, second = _files(tmp_path)
    ref = _ref(tmp_path)
    runtime_mapping(store, ref, first, actor="setup")
    store_draft(store, ref, second, author="ana", comment="", parent=first.version)
    mapper = Identity(name="mia", role="mapper", proven=True)
    cases = [
        (mapper, "mia is a mapper"),
        (Identity(name="bob", role="approver", proven=False), "needs a signed-in approver"),
        (ANA, "ana wrote draft"),
        (BOB, "has not been tested"),
    ]
    for who, message in cases:
        with pytest.raises(ChangeRefusedError, match=message):
            promote(store, ref, second.version, who=who)
    _tested(store, second.version, "some-other-base")  # a test against another version
    with pytest.raises(ChangeRefusedError, match="has not been tested against the promoted"):
        promote(store, ref, second.version, who=BOB)
    _tested(store, second.version, first.version)
    done = promote(store, ref, second.version, who=BOB)
    assert (done.author, done.promotion.previous) == ("ana", first.version)
    with pytest.raises(ChangeRefusedError, match="already the promoted version"):
        promote(store, ref, second.version, who=BOB)
    # four-eyes off: the author may promote alone, untested
    relaxed = _ref(tmp_path, four_eyes=False)
    assert promote(store, relaxed, first.version, who=ANA).promotion.version == first.version


def test_rollback_only_returns_to_a_version_that_ran(tmp_path: Path, store: Store) -> None:
    first, second = _files(tmp_path)
    ref = _ref(tmp_path, four_eyes=False)
    runtime_mapping(store, ref, first, actor="setup")
    with pytest.raises(ChangeRefusedError, match="no earlier promoted version"):
        rollback(store, ref, who=BOB)
    store_draft(store, ref, second, author="ana", comment="", parent=first.version)
    with pytest.raises(ChangeRefusedError, match="was never promoted"):
        rollback(store, ref, who=BOB, to=second.version)
    promote(store, ref, second.version, who=BOB)
    with pytest.raises(ChangeRefusedError, match="mia is a mapper"):
        rollback(store, ref, who=Identity(name="mia", role="mapper", proven=True))
    back = rollback(store, ref, who=BOB)
    assert (back.version, back.previous, back.kind) == (first.version, second.version, "rollback")
    assert store.promoted_mapping("f") == first.version
    assert runtime_mapping(store, ref, first, actor="x").draft_waiting == ""
