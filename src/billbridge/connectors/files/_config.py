"""A `connector: files` connection in billbridge.yaml, validated before anything is read.

Why strict here: how a file writes its amounts and dates is declared, never guessed, so
a wrong declaration must fail at load time, naming the key (an unknown locale, a date
format without a year, an encoding Python does not know), not halfway through a file.
"""

from __future__ import annotations

import codecs
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from pydantic import Field, field_validator, model_validator

from billbridge.connectors.spec import ConnectionConfig
from billbridge.domain import is_currency
from billbridge.formats.files import LAYOUTS, Layout, LayoutError, ObjectKind, Settings
from billbridge.formats.files import custom_layout as _custom

__all__ = ["FilesConnection"]

_PROBE = date(2026, 3, 4)  # day ≠ month, so a format that swaps them is caught too


class FilesConnection(ConnectionConfig):
    """CSV / XLSX exports in one file or a folder, read through a layout (column map).

    `path`: one file (a register re-exported in place, never moved) or a folder. A
    folder is an inbox: after each run, every file it read is moved to `done/` (or
    `failed/`, when a record of it failed) with a report beside it, unless
    `archive: false`, when the folder is read whole on every run like one file.
    """

    connector: Literal["files"]
    path: Path
    layout: str | list[str] | None = None
    columns: dict[str, str | None] | None = None
    object: ObjectKind | None = None
    locale: str = "en_US"
    date_format: str | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    encoding: str = "utf-8"
    currency: str | None = None
    timezone: str = "UTC"
    tax_inclusive: bool = False
    sheet: str | None = None
    archive: bool = True
    mode: Literal["sandbox", "production"] = "production"

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError):
            raise ValueError(
                f"{value!r} is not a locale babel knows (e.g. en_US, de_DE, fr_FR)"
            ) from None
        return value

    @field_validator("date_format")
    @classmethod
    def _whole_dates(cls, value: str | None) -> str | None:
        if value is None:
            return value
        has = {code for code in ("%d", "%m", "%b", "%B", "%Y", "%y") if code in value}
        if "%d" not in has or not has & {"%m", "%b", "%B"} or not has & {"%Y", "%y"}:
            raise ValueError(
                f"{value!r} must name the day (%d), the month (%m) and the year (%Y), "
                'e.g. "%d.%m.%Y" or "%m/%d/%Y"'
            )
        try:
            back = datetime.strptime(_PROBE.strftime(value), value).date()  # noqa: DTZ007
        except ValueError:
            back = None
        if back != _PROBE:
            raise ValueError(f"{value!r} does not read back the dates it writes")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"{value!r} is not a text encoding Python knows (e.g. utf-8, cp1252)"
            ) from None
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is not None and not is_currency(value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (such as EUR)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _a_layout(self) -> FilesConnection:
        names = [self.layout] if isinstance(self.layout, str) else list(self.layout or [])
        for name in names:
            if name not in LAYOUTS:
                raise ValueError(
                    f"layout {name!r} is not known (ready-made: {', '.join(LAYOUTS)}); "
                    "or give a `columns:` map"
                )
        if not names and self.columns is None:
            raise ValueError(f"set `layout:` ({', '.join(LAYOUTS)}) or a `columns:` map")
        if self.columns is not None and len(names) > 1:
            raise ValueError("a `columns:` map renames the columns of one layout, not of a list")
        if self.columns is not None:
            try:
                _custom(names[0] if names else None, self.object, self.columns)
            except LayoutError as exc:
                raise ValueError(f"columns: {exc}") from None
        return self

    def layouts(self) -> tuple[Layout, ...]:
        """The layouts a file may be in (the first whose required columns it has is used)."""
        names = [self.layout] if isinstance(self.layout, str) else list(self.layout or [])
        if self.columns is not None:
            return (_custom(names[0] if names else None, self.object, self.columns),)
        return tuple(LAYOUTS[name] for name in names)

    def settings(self) -> Settings:
        """How cells are read (the normalizer's half of the connection)."""
        formats = {
            layout.name: self.date_format or layout.date_format or "%Y-%m-%d"
            for layout in self.layouts()
        }
        return Settings(
            locale=self.locale,
            date_formats=formats,
            date_format_default=self.date_format or "%Y-%m-%d",
            currency=self.currency,
            timezone=self.timezone,
            tax_inclusive=self.tax_inclusive,
        )
