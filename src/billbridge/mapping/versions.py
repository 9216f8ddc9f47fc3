"""Mapping versions as stored content, and what changed between two of them.

Why the validated model's JSON and not the file's text: the version id is the hash of the
validated content (`Mapping.version`), so comments, key order and an `fx.file` read into
rates do not make a new version, and stored content reloads to exactly the same id.
A reload whose hash differs is refused: the row was not written by billbridge.

Why a diff about meaning: a reviewer approving a change to production asks "which tax
rate now posts where?", not "which lines moved". `diff_mappings` lists accounts, tax
rates, products, tax rules, entities, field paths and exchange settings added, removed
or changed, each with its before and after.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from .books import EntityRule, TaxRule
from .model import Mapping

__all__ = [
    "Change",
    "VersionContentError",
    "content_of",
    "diff_mappings",
    "mapping_from_content",
]

ChangeKind = Literal["added", "removed", "changed"]


class VersionContentError(ValueError):
    """Stored content that is not a valid mapping, or that does not hash to its version."""


def content_of(mapping: Mapping) -> str:
    """The validated model as JSON (sorted keys): what a version row keeps."""
    data = mapping.model_dump(mode="json", exclude={"path"})
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()


def mapping_from_content(content: str, *, path: Path, version: str) -> Mapping:
    """The mapping a version row holds; `path` is the flow's file, named in hints."""
    try:
        data = orjson.loads(content)
        mapping = Mapping.model_validate({**data, "path": path})
    except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
        raise VersionContentError(
            f"mapping version {version} is not a valid mapping: {exc}"
        ) from None
    if mapping.version != version:
        raise VersionContentError(
            f"mapping version {version}'s stored content hashes to {mapping.version}; "
            "the row was changed outside billbridge"
        )
    return mapping


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One difference in meaning: `section` (accounts, tax_rates, …), its key, before/after."""

    section: str
    key: str
    kind: ChangeKind
    before: str = ""
    after: str = ""

    def describe(self) -> str:
        where = f"{self.section}.{self.key}" if self.key else self.section
        if self.kind == "added":
            return f"+ {where}: {self.after}"
        if self.kind == "removed":
            return f"- {where}: {self.before}"
        return f"~ {where}: {self.before} -> {self.after}"

    def as_json(self) -> dict[str, str]:
        return {"section": self.section, "key": self.key, "kind": self.kind,
                "before": self.before, "after": self.after}  # fmt: skip


def _table(section: str, old: AbcMapping[str, str], new: AbcMapping[str, str]) -> Iterable[Change]:
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None:
            yield Change(section=section, key=key, kind="added", after=str(after))
        elif after is None:
            yield Change(section=section, key=key, kind="removed", before=before)
        else:
            yield Change(section=section, key=key, kind="changed", before=before, after=after)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _rule_key(rule: TaxRule) -> str:
    parts = [f"{name}={getattr(rule, name)}" for name in ("rate", "tax_code", "country", "region")]
    return " ".join(p for p in parts if not p.endswith("=")) or "any"


def _rule_value(rule: TaxRule) -> str:
    extra = [f"{n} {getattr(rule, n)}" for n in ("report_code", "reverse_charge_code")
             if getattr(rule, n)]  # fmt: skip
    return rule.account + (f" ({', '.join(extra)})" if extra else "")


def _entity_value(entity: EntityRule) -> str:
    parts = [f"match {entity.match.describe()}"]
    parts += [f"{n} {getattr(entity, n)}" for n in ("prefix", "currency", "country")
              if getattr(entity, n)]  # fmt: skip
    return ", ".join(parts)


def _keyed(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Later duplicates get a position suffix, so two rules with one key both show."""
    found: dict[str, str] = {}
    for key, value in items:
        name, n = key, 2
        while name in found:
            name, n = f"{key} #{n}", n + 1
        found[name] = value
    return found


def _fx(mapping: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    fx = mapping.fx
    if fx is None:
        return {}, {}
    settings = {"gain": fx.gain, "loss": fx.loss, "max_age_days": str(fx.max_age_days)}
    rates = {f"{r.date.isoformat()} {r.pair}": str(r.rate) for r in fx.rates}
    return settings, rates


def diff_mappings(old: Mapping, new: Mapping) -> tuple[Change, ...]:
    """What `new` posts differently from `old`, section by section (empty: same meaning)."""
    changes: list[Change] = []
    settings = ("entity", "timezone", "discounts", "currency")
    changes += _table(
        "settings",
        {k: _text(getattr(old, k)) for k in settings if getattr(old, k) is not None},
        {k: _text(getattr(new, k)) for k in settings if getattr(new, k) is not None},
    )
    accounts = type(old.accounts).model_fields
    changes += _table(
        "accounts",
        {k: v for k in accounts if (v := getattr(old.accounts, k)) is not None},
        {k: v for k in accounts if (v := getattr(new.accounts, k)) is not None},
    )
    changes += _table("tax_rates", old.tax_rates, new.tax_rates)
    changes += _table("products", old.products, new.products)
    changes += _table(
        "tax_rules",
        _keyed((_rule_key(r), _rule_value(r)) for r in old.tax_rules),
        _keyed((_rule_key(r), _rule_value(r)) for r in new.tax_rules),
    )
    changes += _table(
        "entities",
        {e.name: _entity_value(e) for e in old.entities},
        {e.name: _entity_value(e) for e in new.entities},
    )
    changes += _table("fields", old.fields, new.fields)
    old_fx, old_rates = _fx(old)
    new_fx, new_rates = _fx(new)
    changes += _table("fx", old_fx, new_fx)
    changes += _table("fx.rates", old_rates, new_rates)
    return tuple(changes)
