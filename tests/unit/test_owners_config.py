"""`owners:` in billbridge.yaml: every field a two-way pair syncs needs an owner, and a
missing or foreign one is refused at load time naming the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from billbridge.config import ConfigError, OwnerConfig, Workspace, load_workspace
from billbridge.twoway_config import two_way_pairs

HEAD = """\
connections:
  crm:
    connector: bottlecrm
    base_url: http://crm.test
    token: bcrm_pat_test
  stripe:
    connector: stripe
    api_key: sk_test_x
flows:
  - {name: crm-to-stripe, from: crm, to: stripe, mapping: mapping.yaml}
"""
BACK = "  - {name: stripe-to-crm, from: stripe, to: crm, mapping: mapping.yaml}\n"


def load(tmp_path: Path, text: str) -> Workspace:
    path = tmp_path / "billbridge.yaml"
    path.write_text(text)
    return load_workspace(path)


def refused(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    return error.value


def test_a_one_way_flow_needs_no_owners(tmp_path: Path) -> None:
    load(tmp_path, HEAD)


def test_a_two_way_pair_without_owners_names_the_flow_line_and_the_field(tmp_path: Path) -> None:
    error = refused(tmp_path, HEAD + BACK)
    assert error.line == 11  # the second flow of the pair
    assert error.field == "owners.customer.name"
    assert "crm-to-stripe and stripe-to-crm sync both ways" in str(error)
    assert "owner: crm, policy: conflict" in str(error)


def test_a_field_left_out_is_named_at_its_objects_line(tmp_path: Path) -> None:
    text = HEAD + BACK + "owners:\n  customer:\n    name: crm\n    email: {owner: crm}\n"
    error = refused(tmp_path, text)
    assert (error.line, error.field) == (13, "owners.customer.address")


def test_an_owner_outside_the_pair_is_refused_at_its_line(tmp_path: Path) -> None:
    text = HEAD + BACK + (
        "owners:\n  customer:\n    name: crm\n    email: {owner: books, policy: revert}\n"
        "    address: stripe\n"
    )  # fmt: skip
    error = refused(tmp_path, text)
    assert (error.line, error.field) == (15, "owners.customer.email")
    assert "must be crm or stripe" in str(error)


def test_a_bad_policy_is_refused(tmp_path: Path) -> None:
    text = HEAD + BACK + (
        "owners:\n  customer:\n    name: {owner: crm, policy: overwrite}\n"
        "    email: crm\n    address: stripe\n"
    )  # fmt: skip
    error = refused(tmp_path, text)
    assert error.line == 14 and error.field.startswith("owners.customer.name")


def test_complete_owners_load_with_the_short_form(tmp_path: Path) -> None:
    text = HEAD + BACK + (
        "owners:\n  customer:\n    name: {owner: crm, policy: revert}\n    email: crm\n"
        "    address: {owner: stripe, policy: conflict}\n"
    )  # fmt: skip
    ws = load(tmp_path, text)
    assert ws.owners["customer"]["email"] == OwnerConfig(owner="crm", policy="conflict")
    (plan,) = two_way_pairs(ws.flows, {n: c.connector for n, c in ws.connections.items()})
    assert (plan.pair, plan.flow_ab, plan.flow_ba) == (
        "crm|stripe",
        "crm-to-stripe",
        "stripe-to-crm",
    )
    assert plan.objects == {"customer": ("name", "email", "address")}
