"""Which mapping a flow runs, and the only ways that changes: bootstrap, promote, rollback.

Why the store decides and not the file: editing mapping.yaml used to change production at
the next sync, with nobody's approval. Now every version a flow runs is kept immutably
(content, author, time, comment, parent) and a flow runs its *promoted* version on every
path (sync, replay, retry, the worker, the webhook drain, `reconcile --fix`), because
they all build their flow through `wiring.build_flow`, which asks `runtime_mapping`.

- A file whose content differs from the promoted version is a *draft*. On a production
  flow it never runs silently: the flow runs the promoted version and says the draft
  waits (`FlowMapping.draft_waiting`). A sandbox flow runs the draft (kept as a version,
  so every posting's version id still names stored content).
- The first time a flow is built, its file becomes the promoted version (`bootstrap`,
  audited), so workspaces from before change control go on as they were.
- `promote` on a production flow with four-eyes (the default) needs a signed-in approver
  who is not the draft's author, and a `mapping test` of exactly that draft against the
  version promoted now. `rollback` goes back to a version promoted before.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from billbridge.identity import Identity
from billbridge.mapping.model import Mapping
from billbridge.mapping.versions import Change, content_of, diff_mappings, mapping_from_content
from billbridge.roles import refusal
from billbridge.store import (
    ChangedMeanwhileError,
    MappingTestRow,
    MappingVersionRow,
    PromotionRow,
)
from billbridge.store.base import AuditEvent, Mappings

__all__ = [
    "ChangeRefusedError",
    "FlowMapping",
    "FlowRef",
    "Promoted",
    "VersionInfo",
    "history",
    "load_version",
    "promote",
    "resolve_version",
    "rollback",
    "runtime_mapping",
    "store_draft",
    "version_diff",
]


class ChangeRefusedError(Exception):
    """A change-control step refused, with the sentence to show; `kind` maps to HTTP."""

    def __init__(self, message: str, *, kind: Literal["forbidden", "not-found", "conflict"]):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRef:
    """What change control needs to know of a flow (built from billbridge.yaml by wiring)."""

    name: str
    source: str
    target: str
    mapping_path: Path
    production: bool
    four_eyes: bool = True

    @property
    def guarded(self) -> bool:
        """Promotion needs a second person and a test (production with four-eyes)."""
        return self.production and self.four_eyes


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowMapping:
    mapping: Mapping  # what the flow runs now
    promoted: str  # the promoted version id
    file_version: str  # the version id of the mapping file as it is on disk
    draft_waiting: str = ""  # the file's version, when production runs `promoted` instead
    sandbox_draft: str = ""  # the file's version, when a sandbox flow runs it unpromoted

    def note(self, flow: str) -> str:
        """One sentence for `sync` and the worker when the file is not what runs."""
        if self.draft_waiting:
            return (
                f"{self.mapping.path.name} holds mapping draft {self.draft_waiting}; flow "
                f"{flow} is on production and runs the promoted version {self.promoted}. "
                f"Test the draft (`billbridge mapping test {flow}`), then an approver "
                f"promotes it (`billbridge mapping promote {flow} {self.draft_waiting}`)."
            )
        if self.sandbox_draft:
            return (
                f"flow {flow} is on a sandbox and runs mapping draft {self.sandbox_draft} "
                f"from {self.mapping.path.name} (promoted: {self.promoted})."
            )
        return ""


def _now() -> datetime:
    return datetime.now(UTC)


def store_draft(
    store: Mappings, flow: FlowRef, mapping: Mapping, *, author: str, comment: str, parent: str
) -> bool:
    """Keep `mapping` as a version of the flow (once); True when this call stored it."""
    row = MappingVersionRow(
        flow=flow.name, version=mapping.version, content=content_of(mapping), author=author,
        created_at=_now(), comment=comment, parent=parent,
    )  # fmt: skip
    audit = AuditEvent(
        actor=author, action="mapping-draft", mapping_version=mapping.version,
        diff={"flow": [None, flow.name], "version": [None, mapping.version],
              "parent": [None, parent], "comment": [None, comment]},
    )  # fmt: skip
    return store.add_mapping_version(row, audit=audit)


def _bootstrap(store: Mappings, flow: FlowRef, file: Mapping, *, actor: str) -> str:
    """The file as the flow's first promoted version (a workspace from before this)."""
    store.add_mapping_version(
        MappingVersionRow(
            flow=flow.name, version=file.version, content=content_of(file), author=actor,
            created_at=_now(), comment=f"{file.path.name} when change control began",
        ),
        audit=None,
    )  # fmt: skip
    # Another process bootstrapping this flow at the same moment wins: its version stands.
    with contextlib.suppress(ChangedMeanwhileError):
        store.promote_mapping(
            flow=flow.name, version=file.version, expected=None, kind="bootstrap",
            actor=actor, test_id=None, source=flow.source, target=flow.target,
            mapping=str(flow.mapping_path),
            audit=AuditEvent(
                actor=actor, action="mapping-bootstrapped", mapping_version=file.version,
                diff={"flow": [None, flow.name], "promoted": [None, file.version],
                      "file": [None, str(flow.mapping_path)]},
            ),
        )  # fmt: skip
    found = store.promoted_mapping(flow.name)
    assert found is not None  # promoted just now, by us or by the other process
    return found


def load_version(store: Mappings, flow: FlowRef, version: str) -> Mapping:
    row = store.get_mapping_version(flow.name, version)
    if row is None:
        raise ChangeRefusedError(
            f"flow {flow.name} has no mapping version {version} "
            f"(`billbridge mapping history {flow.name}` lists them)",
            kind="not-found",
        )
    return mapping_from_content(row.content, path=flow.mapping_path, version=version)


def runtime_mapping(store: Mappings, flow: FlowRef, file: Mapping, *, actor: str) -> FlowMapping:
    """The mapping `flow` runs now (see the module docstring), given its file as on disk."""
    promoted = store.promoted_mapping(flow.name)
    if promoted is None:
        promoted = _bootstrap(store, flow, file, actor=actor)
    if file.version == promoted:
        return FlowMapping(mapping=file, promoted=promoted, file_version=file.version)
    if flow.production:
        return FlowMapping(
            mapping=load_version(store, flow, promoted), promoted=promoted,
            file_version=file.version, draft_waiting=file.version,
        )  # fmt: skip
    store_draft(store, flow, file, author=actor, parent=promoted,
                comment=f"{file.path.name}, run on a sandbox")  # fmt: skip
    return FlowMapping(
        mapping=file, promoted=promoted, file_version=file.version, sandbox_draft=file.version
    )


def resolve_version(store: Mappings, flow: FlowRef, text: str) -> str:
    """A stored version id from its full id or a unique prefix (at least 4 characters)."""
    versions = [row.version for row in store.mapping_versions(flow.name)]
    if text in versions:
        return text
    found = [v for v in versions if len(text) >= 4 and v.startswith(text)]
    if len(found) == 1:
        return found[0]
    why = "matches several versions" if found else "is not a mapping version of this flow"
    raise ChangeRefusedError(
        f"{text!r} {why} (`billbridge mapping history {flow.name}` lists them)", kind="not-found"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Promoted:
    promotion: PromotionRow
    test: MappingTestRow | None
    author: str


def _check(who: Identity, what: Literal["promote", "rollback"]) -> None:
    refused = refusal(who.name, who.role, what)
    if refused is not None:
        raise ChangeRefusedError(refused, kind="forbidden")


def promote(store: Mappings, flow: FlowRef, version: str, *, who: Identity) -> Promoted:
    """Make `version` the one `flow` runs; four-eyes on a guarded flow (see FlowRef)."""
    _check(who, "promote")
    row = store.get_mapping_version(flow.name, version)
    if row is None:
        raise ChangeRefusedError(f"flow {flow.name} has no mapping version {version}",
                                 kind="not-found")  # fmt: skip
    current = store.promoted_mapping(flow.name)
    if current == version:
        raise ChangeRefusedError(f"{version} is already the promoted version of {flow.name}",
                                 kind="conflict")  # fmt: skip
    test: MappingTestRow | None = None
    if flow.guarded:
        if not who.proven:
            raise ChangeRefusedError(
                f"flow {flow.name} is on production: promoting needs a signed-in approver "
                "(BILLBRIDGE_TOKEN, or the web UI); four-eyes cannot tell people apart otherwise",
                kind="forbidden",
            )
        if row.author == who.name:
            raise ChangeRefusedError(
                f"{who.name} wrote draft {version}; on production another approver must "
                "promote it (four-eyes)",
                kind="forbidden",
            )
        tests = [t for t in store.mapping_tests(flow.name, draft=version) if t.base == current]
        if not tests:
            raise ChangeRefusedError(
                f"draft {version} has not been tested against the promoted version "
                f"{current}: run `billbridge mapping test {flow.name} --draft {version}` first",
                kind="conflict",
            )
        test = tests[-1]
    mapping = load_version(store, flow, version)  # refuses content that no longer hashes
    promotion = store.promote_mapping(
        flow=flow.name, version=version, expected=current, kind="promote", actor=who.actor,
        test_id=test.id if test else None, source=flow.source, target=flow.target,
        mapping=str(flow.mapping_path),
        audit=AuditEvent(
            actor=who.actor, action="mapping-promoted", mapping_version=mapping.version,
            diff={"flow": [None, flow.name], "promoted": [current, version],
                  "author": [None, row.author], "test": [None, test.id if test else None]},
        ),
    )  # fmt: skip
    return Promoted(promotion=promotion, test=test, author=row.author)


def rollback(
    store: Mappings, flow: FlowRef, *, who: Identity, to: str | None = None
) -> PromotionRow:
    """Run an earlier promoted version again (by default the one before the current)."""
    _check(who, "rollback")
    if flow.guarded and not who.proven:
        raise ChangeRefusedError(
            f"flow {flow.name} is on production: rolling back needs a signed-in approver "
            "(BILLBRIDGE_TOKEN, or the web UI)",
            kind="forbidden",
        )
    current = store.promoted_mapping(flow.name)
    promotions = store.mapping_promotions(flow.name)
    if to is None:
        target = promotions[-1].previous if promotions else ""
        if not target:
            raise ChangeRefusedError(
                f"flow {flow.name} has no earlier promoted version to roll back to",
                kind="conflict",
            )
    else:
        target = to
        if target not in {p.version for p in promotions}:
            raise ChangeRefusedError(
                f"{target} was never promoted for {flow.name}: a rollback only returns to "
                "a version that ran before (promote a draft instead)",
                kind="conflict",
            )
    if target == current:
        raise ChangeRefusedError(f"{target} is already the promoted version", kind="conflict")
    load_version(store, flow, target)
    return store.promote_mapping(
        flow=flow.name, version=target, expected=current, kind="rollback", actor=who.actor,
        test_id=None, source=flow.source, target=flow.target, mapping=str(flow.mapping_path),
        audit=AuditEvent(
            actor=who.actor, action="mapping-rolled-back", mapping_version=target,
            diff={"flow": [None, flow.name], "promoted": [current, target]},
        ),
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionInfo:
    version: str
    author: str
    created_at: datetime
    comment: str
    parent: str
    status: Literal["promoted", "was promoted", "draft"]
    tests: tuple[int, ...]
    promotions: tuple[PromotionRow, ...]
    in_file: bool

    def as_json(self) -> dict[str, object]:
        return {
            "version": self.version, "author": self.author,
            "created_at": self.created_at.isoformat(), "comment": self.comment,
            "parent": self.parent or None, "status": self.status, "tests": list(self.tests),
            "in_file": self.in_file,
            "promotions": [
                {"kind": p.kind, "actor": p.actor, "at": p.at.isoformat(),
                 "previous": p.previous or None, "test": p.test_id}
                for p in self.promotions
            ],
        }  # fmt: skip


def history(store: Mappings, flow: FlowRef, *, file_version: str = "") -> list[VersionInfo]:
    """Every stored version of the flow's mapping, oldest first, with its promotions."""
    current = store.promoted_mapping(flow.name)
    promotions = store.mapping_promotions(flow.name)
    tests = store.mapping_tests(flow.name)
    found = []
    for row in store.mapping_versions(flow.name):
        mine = tuple(p for p in promotions if p.version == row.version)
        status: Literal["promoted", "was promoted", "draft"] = (
            "promoted" if row.version == current else "was promoted" if mine else "draft"
        )
        found.append(
            VersionInfo(
                version=row.version, author=row.author, created_at=row.created_at,
                comment=row.comment, parent=row.parent, status=status,
                tests=tuple(t.id for t in tests if t.draft == row.version), promotions=mine,
                in_file=row.version == file_version,
            )
        )  # fmt: skip
    return found


def version_diff(
    store: Mappings, flow: FlowRef, old: str, new: Mapping | str
) -> tuple[Change, ...]:
    """The changes of meaning from stored version `old` to `new` (stored, or a file)."""
    after = new if isinstance(new, Mapping) else load_version(store, flow, new)
    return diff_mappings(load_version(store, flow, old), after)
