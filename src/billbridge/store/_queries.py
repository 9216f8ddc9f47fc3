"""Named SQL from `sql/<dialect>/queries.sql`, and the migration and schema files.

Hand-written rather than a dependency (aiosql, pugsql): the whole format is a
``-- name: foo`` line before each query, and parsing it is twenty lines. Files are read
with importlib.resources so they work from a wheel as well as from a checkout.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = ["Migration", "migrations", "queries", "read_sql"]

_NAME = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_QUERY_FILE = re.compile(r"^queries(_[a-z0-9_]+)?\.sql$")
_MIGRATION = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.sql$")

Migration = tuple[int, str, str]  # (version, file name, sql)


def read_sql(dialect: str, name: str) -> str:
    """One file under `sql/<dialect>/`, e.g. ``read_sql("sqlite", "schema.sql")``."""
    return resources.files(__package__).joinpath("sql", dialect, name).read_text("utf-8")


@cache
def queries(dialect: str) -> dict[str, str]:
    """Every ``-- name:`` query of a dialect, loaded once per process.

    Queries live in `queries.sql` and in `queries_<topic>.sql` files beside it, so each
    part of billbridge (webhooks, users, reconcile) keeps its SQL in its own file.
    """
    found: dict[str, str] = {}
    folder = resources.files(__package__).joinpath("sql", dialect)
    files = sorted(e.name for e in folder.iterdir() if _QUERY_FILE.match(e.name))
    for file in files:
        name: str | None = None
        lines: list[str] = []
        for line in [*read_sql(dialect, file).splitlines(), "-- name: _end"]:
            match = _NAME.match(line)
            if match is None:
                if name is not None and not line.lstrip().startswith("--"):
                    lines.append(line)
                continue
            if name is not None:
                found[name] = "\n".join(lines).strip().rstrip(";")
            name, lines = match.group(1), []
            if name in found:
                raise ValueError(f"sql/{dialect}/{file}: query {name!r} defined twice")
    return found


@cache
def migrations(dialect: str) -> tuple[Migration, ...]:
    """Numbered migration files (`NNNN_what.sql`) in version order."""
    folder = resources.files(__package__).joinpath("sql", dialect, "migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text("utf-8")))
    return tuple(sorted(found))
