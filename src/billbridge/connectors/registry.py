"""Finds connectors through the entry-point group `billbridge.connectors`, lazily.

Why lazy: discovering the names reads only package metadata; a connector's module is
imported the first time a workspace uses it. An optional connector whose dependencies are
absent (GnuCash without `billbridge[gnucash]`) or a broken plugin therefore harms only
the workspaces that name it, and the error says which entry point of which package
failed and what to install.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .base import FatalError
from .spec import ENTRY_POINT_GROUP, ConnectionConfig, ConnectorSpec

__all__ = [
    "ConnectorLoadError",
    "UnknownConnectorError",
    "connector_names",
    "connector_spec",
    "spec_for",
]


class UnknownConnectorError(FatalError):
    """No installed package offers this connector."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        hint = ", ".join(known) or "none"
        if not any(_dist_name(ep) == "billbridge" for eps in _discover().values() for ep in eps):
            hint += " (billbridge's own connectors are missing: reinstall it, `pip install -e .`)"
        super().__init__(f"unknown connector {name!r}; expected one of: {hint}")


class ConnectorLoadError(FatalError):
    """A connector's entry point is installed but could not be loaded."""


_discovered: dict[tuple[str, ...], dict[str, tuple[EntryPoint, ...]]] = {}
_loaded: dict[tuple[str, str, str], ConnectorSpec[Any]] = {}


def _discover() -> dict[str, tuple[EntryPoint, ...]]:
    """Name -> the entry points offering it; read again whenever sys.path changes."""
    key = tuple(sys.path)
    if key not in _discovered:
        found: dict[str, list[EntryPoint]] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            found.setdefault(ep.name, []).append(ep)
        _discovered.clear()
        _loaded.clear()
        _discovered[key] = {name: tuple(eps) for name, eps in found.items()}
    return _discovered[key]


def connector_names() -> tuple[str, ...]:
    """Every installed connector's name (billbridge's own and plugins'), sorted."""
    return tuple(sorted(_discover()))


def _dist_name(ep: EntryPoint) -> str:
    dist = ep.dist
    return str(dist.metadata["Name"]) if dist is not None else "?"


def _where(ep: EntryPoint) -> str:
    dist = ep.dist
    package = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "unknown"
    return f"entry point `{ep.name} = {ep.value}` of the package {package}"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _install_hint(ep: EntryPoint, exc: BaseException) -> str:
    """What to install: the package's extra that requires the missing module, if any."""
    dist = ep.dist
    package = dist.metadata["Name"] if dist is not None else None
    if package is None:
        return "reinstall the package that offers it"
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    for requirement in (dist.requires or []) if dist is not None else []:
        spec, _, marker = requirement.partition(";")
        wanted = re.split(r"[\s<>=!~\[(]", spec.strip(), maxsplit=1)[0]
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if missing and extra and _normal(wanted) == _normal(missing.split(".")[0]):
            return f"install it with `pip install '{package}[{extra.group(1)}]'`"
    return f"reinstall or fix the package `{package}` (`pip install --force-reinstall {package}`)"


def connector_spec(name: str) -> ConnectorSpec[Any]:
    """The spec of connector `name`, importing its module on first use.

    Raises `UnknownConnectorError` (listing the known names) or `ConnectorLoadError`
    (naming the entry point, its package and what to install).
    """
    offers = _discover().get(name)
    if not offers:
        raise UnknownConnectorError(name, connector_names())
    if len(offers) > 1:
        packages = ", ".join(sorted(_where(ep) for ep in offers))
        raise ConnectorLoadError(
            f"connector {name!r} is offered more than once ({packages}); uninstall all but one"
        )
    ep = offers[0]
    key = (ep.name, ep.value, _dist_name(ep))
    if key in _loaded:
        return _loaded[key]
    try:
        spec = ep.load()
    except Exception as exc:
        raise ConnectorLoadError(
            f"connector {name!r} could not be loaded from the {_where(ep)}: "
            f"{type(exc).__name__}: {exc}; {_install_hint(ep, exc)}"
        ) from exc
    problem = _problem(name, spec)
    if problem:
        raise ConnectorLoadError(f"the {_where(ep)} {problem}")
    _loaded[key] = spec
    return spec  # type: ignore[no-any-return]


def _problem(name: str, spec: object) -> str:
    if not isinstance(spec, ConnectorSpec):
        return f"gives a {type(spec).__name__}, not a billbridge ConnectorSpec"
    if spec.name != name:
        return f"gives the spec of {spec.name!r}; the entry point's name must be {spec.name!r}"
    if not (isinstance(spec.config, type) and issubclass(spec.config, ConnectionConfig)):
        return "has a `config` that is not a subclass of billbridge's ConnectionConfig"
    if spec.role not in ("source", "target"):
        return f"has the role {spec.role!r}; expected 'source' or 'target'"
    if spec.role == "source" and spec.source_model is None:
        return (
            "is a source without a `source_model`: give the spec the normalizer that turns "
            "its records into canonical objects (see billbridge.connectors.source)"
        )
    return ""


def spec_for(conn: ConnectionConfig) -> ConnectorSpec[Any]:
    """The spec of a validated connection (its `connector:` value)."""
    return connector_spec(conn.connector)
