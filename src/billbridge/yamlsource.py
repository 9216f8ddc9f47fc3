"""YAML with line numbers, so every configuration error can name its file, line and field.

Why hand-written (about 60 lines): PyYAML's composer already knows each node's line;
this walks its node tree once to build plain dicts plus a map from field path to line.
ruamel.yaml offers the same, but it would be a second YAML library for one feature.
pydantic's error `loc` tuples are then looked up in that map.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ConfigError", "LocatedYaml", "first_error", "load_yaml"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    """The configuration is wrong; the message names the file, the line and the field."""

    def __init__(self, path: Path | str, line: int | None, field: str, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.detail = message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class LocatedYaml:
    """A parsed YAML document and the line (1-based) of every field path in it."""

    path: Path
    data: Any
    lines: Mapping[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """Line of the deepest known prefix of `loc` (pydantic adds union tags to paths)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


def load_yaml(path: Path, *, env: Mapping[str, str] | None = None) -> LocatedYaml:
    """Parse `path`, expanding `${VAR}` from `env` in string values (a missing VAR is an error)."""
    env = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, line, "", f"not valid YAML: {problem}") from None
    lines: dict[tuple[str | int, ...], int] = {}
    data = _build(node, (), lines, path, env) if node is not None else {}
    return LocatedYaml(path=path, data=data, lines=lines)


def _build(
    node: yaml.Node,
    loc: tuple[str | int, ...],
    lines: dict[tuple[str | int, ...], int],
    path: Path,
    env: Mapping[str, str],
) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in result:
                raise ConfigError(path, key_node.start_mark.line + 1, key, "duplicate key")
            result[key] = _build(value_node, (*loc, key), lines, path, env)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), lines, path, env) for i, item in enumerate(node.value)]
    value = yaml.SafeLoader("").construct_object(node, deep=True)
    if isinstance(value, str) and "${" in value:

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(
                    path,
                    node.start_mark.line + 1,
                    ".".join(str(p) for p in loc),
                    f"environment variable {name} is not set (referenced as ${{{name}}})",
                )
            return env[name]

        value = _ENV.sub(substitute, value)
    return value


def first_error(
    errors: Sequence[Mapping[str, Any]], top_level: Iterable[str] = ()
) -> tuple[Mapping[str, Any], str]:
    """The validation error to report first, and its message when it is a misspelling.

    Why: a misspelled key (`connectionz:`) makes pydantic report the key it replaced as
    missing first (`connections: required`), which sends the reader to the wrong line. An
    unknown key goes first, named as a likely misspelling of a key that is missing beside
    it (or, at the top, of any key the file may have).
    """
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    if not unknown:
        return errors[0], ""
    error = unknown[0]
    loc = tuple(error["loc"])
    name, parent = str(loc[-1]), loc[:-1]
    candidates = [
        str(e["loc"][-1])
        for e in errors
        if e["type"] == "missing" and tuple(e["loc"][:-1]) == parent
    ]
    if not parent:
        candidates += [c for c in top_level if c not in candidates]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        return error, f"unknown key {name!r}: a misspelling of `{close[0]}`?"
    return error, f"unknown key {name!r}; check its spelling"
