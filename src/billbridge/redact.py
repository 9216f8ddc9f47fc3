"""One place that knows what a secret looks like, so no answer, page or message shows one.

Why one module: a connection's settings hold secrets in several shapes — a `SecretStr`
(`api_key`, `webhook_secret`), a password inside a database URL (`postgresql://u:pw@h/db`),
a token in a URL's query (`?token=…`), a plugin's setting named `password` — and each
place that shows settings (the REST API, a page, an error text) must hide all of them.
`redact` masks every shape in a JSON-like value; `workspace_secrets` lists the plain
values a workspace holds, so `scrub` can take them out of any text (the service runs
every text answer through it, as a last line of defence against a message that quotes
a URL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from billbridge.config import Workspace

__all__ = [
    "MASK",
    "redact",
    "redact_settings",
    "redact_url",
    "scrub",
    "secret_name",
    "workspace_secrets",
]

MASK = "***"
_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|signature",
    re.IGNORECASE,
)
# `password=…` in a libpq keyword string or a log line; user:password@ in any URL.
_KEYWORD = re.compile(
    r"\b(\w*(?:password|passwd|pwd|token|secret|api[_-]?key))=([^\s&;,'\"]+)", re.IGNORECASE
)
_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I
)
_MIN_SCRUB = 4  # a shorter "secret" would garble every page it appears in by chance


def secret_name(name: str) -> bool:
    """Whether a setting's name says it holds a secret (`password`, `api_key`, `token`…)."""
    return bool(_SECRET_NAME.search(name))


def redact_url(url: str) -> str:
    """The URL with its password and every secret-named query value masked.

    `postgresql://books:s3cret@db/gl?sslpassword=x` → `postgresql://books:***@db/gl?sslpassword=***`.
    A text that is not a URL comes back unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(rf"\g<scheme>\g<user>:{MASK}@", url)
    if not parts.scheme or (not parts.netloc and not parts.query):
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(secret_name(key) for key, _ in pairs):
            query = urlencode([(k, MASK if secret_name(k) else v) for k, v in pairs], safe="*:/@")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(value: Any, name: str = "") -> Any:
    """A JSON-like copy of `value` with every secret masked.

    A `SecretStr`, any non-empty text under a secret-named key, and the password or
    secret query values of any URL are masked; mappings, lists and pydantic models are
    walked (models as their JSON dump, where `SecretStr` is already masked).
    """
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, BaseModel):
        return redact(value.model_dump(mode="json", by_alias=True), name)
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, name) for v in value]
    if isinstance(value, str):
        if value and name and secret_name(name):
            return MASK
        return redact_url(value) if "://" in value else _KEYWORD.sub(rf"\1={MASK}", value)
    return value


def redact_settings(config: BaseModel) -> dict[str, Any]:
    """A connection's (or any settings model's) fields for showing: secrets masked, and
    for each `SecretStr` field only `<field>_set` (whether it is set), never its value."""
    shown: dict[str, Any] = {}
    for field, info in type(config).model_fields.items():
        value = getattr(config, field)
        if _is_secret_field(info.annotation) or isinstance(value, SecretStr):
            shown[f"{field}_set"] = value is not None
            continue
        dumped = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        shown[info.alias or field] = redact(_jsonable(dumped), field)
    return shown


def _is_secret_field(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return SecretStr in getattr(annotation, "__args__", ())


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # a Path, an enum


def _secrets_in(value: Any, name: str = "") -> Iterable[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for field in type(value).model_fields:
            yield from _secrets_in(getattr(value, field), field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _secrets_in(item, str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets_in(item, name)
    elif isinstance(value, str) and value:
        if name and secret_name(name):
            yield value
        for match in _USERINFO.finditer(value):
            yield match["pw"]
            yield unquote(match["pw"])
        for match in _KEYWORD.finditer(value):
            yield match[2]
            yield unquote(match[2])


def workspace_secrets(workspace: Workspace) -> list[str]:
    """Every secret value the workspace holds, longest first (for `scrub`)."""
    found = set(_secrets_in(workspace.connections))
    if workspace.alerts is not None:
        found.update(_secrets_in(workspace.alerts))
    found.update(_secrets_in(workspace.state_url()))
    return sorted((s for s in found if len(s) >= _MIN_SCRUB), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets` (and any URL password) replaced by the mask."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _USERINFO.sub(rf"\g<scheme>\g<user>:{MASK}@", text)
