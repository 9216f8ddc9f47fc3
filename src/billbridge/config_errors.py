"""Errors in billbridge.yaml, located: the file, the line and the field a person must fix.

Why a module of its own: pydantic reports a path into the parsed data and a message
written for programmers. A validator that knows better where the mistake is (a flow
naming a connection that does not exist, a test key on a production connection) raises
one of the located errors below, and `config_error` turns pydantic's first error into
one `ConfigError` with the YAML line of that place, never echoing a secret.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from .yamlsource import ConfigError, LocatedYaml, first_error

__all__ = [
    "FieldValueError",
    "LineValueError",
    "LocatedValueError",
    "NestedError",
    "config_error",
]


class LocatedValueError(ValueError):
    """A validator's error at `loc`, a path from the top of billbridge.yaml."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


class LineValueError(LocatedValueError):
    """A located error shown at another path's line (the field it names may be absent)."""

    def __init__(
        self, loc: tuple[str | int, ...], line: tuple[str | int, ...], message: str
    ) -> None:
        super().__init__(loc, message)
        self.line = line


class FieldValueError(LocatedValueError):
    """A located error whose `loc` is relative to the model that raised it."""


class NestedError(ValueError):
    """A connection's own model refused it: its errors, under `connections.<name>`."""

    def __init__(self, loc: tuple[str | int, ...], error: ValidationError) -> None:
        self.loc = loc
        self.error = error
        super().__init__(str(error))


def config_error(doc: LocatedYaml, exc: ValidationError, top: Sequence[str]) -> ConfigError:
    """The first of `exc`'s errors as a ConfigError at its line of `doc`.

    `top`: the keys allowed at the top of the file (a misspelled one is named as such).
    """
    error, misspelled = first_error(exc.errors(), top)
    ctx_error = (error.get("ctx") or {}).get("error")
    prefix: tuple[str | int, ...] = ()
    if isinstance(ctx_error, NestedError):  # a connection's model: its own first error
        prefix, error = ctx_error.loc, ctx_error.error.errors()[0]
        ctx_error = (error.get("ctx") or {}).get("error")
    loc: tuple[str | int, ...] = (*prefix, *error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if isinstance(ctx_error, FieldValueError):
        loc, message = (*loc, *ctx_error.loc), str(ctx_error)
    elif isinstance(ctx_error, LocatedValueError):
        loc, message = ctx_error.loc, str(ctx_error)
    line_loc = ctx_error.line if isinstance(ctx_error, LineValueError) else loc
    shown = list(loc)
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in shown).lstrip(".")
    if error["type"] == "extra_forbidden":
        message = misspelled or f"unknown key {shown[-1]!r}; check its spelling"
    elif error["type"] == "missing":
        message = "required, but missing"
    elif "input" in error and not isinstance(error["input"], dict | list):
        secret = any(name in field for name in ("api_key", "password", "webhook", "secret"))
        shown_input = "<secret>" if secret else repr(error["input"])
        message = f"{message} (got {shown_input})"
    return ConfigError(doc.path, doc.line_of(line_loc), field, message)
