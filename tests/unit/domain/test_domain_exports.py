"""`billbridge.domain.__all__` is the whole public API of the domain (as httpx keeps its own)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import billbridge.domain as domain


def domain_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{domain.__name__}.{info.name}")
        for info in pkgutil.iter_modules(domain.__path__)
    ]


def public_names_defined_in(module: ModuleType) -> set[str]:
    """Classes and functions defined in `module`, and the constants it declares (`Final`)."""
    declared = vars(module).get("__annotations__", {})
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        defined_here = (inspect.isclass(value) or inspect.isfunction(value)) and (
            value.__module__ == module.__name__
        )
        if defined_here or (name.isupper() and name in declared):
            names.add(name)
    return names


def test_there_are_domain_modules() -> None:
    names = {m.__name__.rsplit(".", 1)[1] for m in domain_modules()}
    assert {"money", "billing", "journal", "problems", "validation"} <= names


def test_each_module_lists_its_public_names() -> None:
    for module in domain_modules():
        missing = public_names_defined_in(module) - set(module.__all__)
        assert not missing, f"{module.__name__}.__all__ lacks {sorted(missing)}"


def test_the_package_exports_every_public_name_of_every_module() -> None:
    expected = {name for module in domain_modules() for name in module.__all__}
    assert set(domain.__all__) == expected
    assert len(domain.__all__) == len(set(domain.__all__))


def test_every_exported_name_resolves_to_its_module_object() -> None:
    for module in domain_modules():
        for name in module.__all__:
            assert getattr(domain, name) is getattr(module, name)
