"""A faster `__init__` for the domain's frozen, slotted, keyword-only dataclasses.

Why: a backfill builds millions of these values, and a frozen dataclass's generated
`__init__` stores each field through `object.__setattr__` (it must step around the
class's own refusing `__setattr__`), which costs about twice what storing through the
slot itself does. `fast_init` swaps in an `__init__` with the same keyword-only
signature and defaults that stores through the slots' own setters, then runs
`__post_init__` as before. Nothing else changes: the instance is just as frozen (the
refusing `__setattr__` stays), and equality, hashing, `repr`, `replace` and pickling are
the dataclass's own. Classes it cannot treat exactly alike are refused at import.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["fast_init"]

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Give `cls` (a frozen, slotted, keyword-only dataclass) a slot-storing `__init__`."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not params.init or "__slots__" not in vars(cls):
        raise TypeError(f"fast_init needs a frozen dataclass with slots, not {cls.__name__}")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not fields or len(fields) != len(cls.__dataclass_fields__):  # type: ignore[attr-defined]
        raise TypeError(f"fast_init: {cls.__name__} needs fields, and no InitVar or ClassVar")
    namespace: dict[str, Any] = {}
    params_src: list[str] = []
    body: list[str] = []
    for field in fields:
        name = field.name
        if not field.init or not field.kw_only or field.default_factory is not dataclasses.MISSING:
            raise TypeError(
                f"fast_init: {cls.__name__}.{name} must be a keyword-only init field "
                "without a default factory"
            )
        namespace[f"_set_{name}"] = vars(cls)[name].__set__
        if field.default is dataclasses.MISSING:
            params_src.append(name)
        else:
            namespace[f"_default_{name}"] = field.default
            params_src.append(f"{name}=_default_{name}")
        body.append(f"    _set_{name}(self, {name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, *, {', '.join(params_src)}):\n" + "\n".join(body) + "\n"
    exec(source, namespace)  # noqa: S102 - field names of our own classes, as dataclasses does
    init = namespace["__init__"]
    generated = vars(cls)["__init__"]
    init.__qualname__ = generated.__qualname__
    init.__module__ = generated.__module__
    init.__annotations__ = dict(generated.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
