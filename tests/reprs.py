"""Find Python reprs in what a person reads: `[None, 'tax_id']`, `{'synced': 3}`, `Decimal(…)`.

Used by the page and `--json` scans (issue 18): text shown to people must be words, and a
JSON value must be JSON (a list is a list), never a Python value printed into a string.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["REPR", "page_text", "repr_marks", "strings"]

REPR = re.compile(
    r"\[None\b|\bNone\]|\bNone,|, None\b|: None\b|\[\s*'|'\s*\]|\{\s*'|'\s*:\s|', '"
    r"|\bDecimal\(|\bdatetime\.|\b(?:True|False)\b|<object at 0x"
)


def repr_marks(text: str) -> list[str]:
    """Each stretch of `text` that looks like a Python repr, with a little context."""
    return [text[max(0, m.start() - 30) : m.end() + 30] for m in REPR.finditer(text)]


def page_text(page: str) -> str:
    """What a browser shows of an HTML page: no tags, no script or style, entities undone."""
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
